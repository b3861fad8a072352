"""Model IP protection: extraction (theft) simulation, trigger-set watermarks, keyed API
watermark verification, fingerprints of never-watermarked models, and signed ownership
certificates. docs/ip.md is the overview."""
