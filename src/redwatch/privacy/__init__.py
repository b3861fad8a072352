"""Privacy attacks and their statistics: membership inference (threshold, LiRA, RMIA,
label-only), the shadow models they calibrate on, and the ROC figures an audit reports.

Pure algorithms: arrays in, arrays out; the probes in `redwatch.probes.privacy` turn the
figures into findings."""
