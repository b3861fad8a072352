/* redwatch dashboard: draws the Plotly figures the server embeds as JSON, sends htmx
   request bodies as JSON (the API takes JSON), and refreshes panels after an action. */
(function () {
  "use strict";

  function drawCharts(root) {
    root.querySelectorAll("script.figure[type='application/json']").forEach(function (node) {
      var target = document.getElementById(node.dataset.chart);
      if (!target || target.dataset.drawn === "1" || typeof Plotly === "undefined") {
        return;
      }
      var figure = JSON.parse(node.textContent);
      Plotly.newPlot(target, figure.data, figure.layout, {displaylogo: false, responsive: true});
      target.dataset.drawn = "1";
    });
  }

  htmx.defineExtension("json-body", {
    onEvent: function (name, evt) {
      if (name === "htmx:configRequest") {
        evt.detail.headers["Content-Type"] = "application/json";
      }
    },
    encodeParameters: function (xhr, parameters) {
      var body = {};
      parameters.forEach(function (value, key) { body[key] = value; });
      xhr.overrideMimeType("text/json");
      return JSON.stringify(body);
    }
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    var outlet = elt.dataset && elt.dataset.result ? document.getElementById(elt.dataset.result) : null;
    if (outlet) { outlet.textContent = "working…"; outlet.className = "result"; }
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var outlet = elt.dataset && elt.dataset.result ? document.getElementById(elt.dataset.result) : null;
    if (!elt.dataset || !elt.dataset.refresh) {
      return;
    }
    if (evt.detail.successful) {
      if (outlet) { outlet.textContent = elt.dataset.done || "done"; outlet.className = "result ok"; }
      htmx.trigger(document.body, elt.dataset.refresh);
    } else if (outlet) {
      var text = evt.detail.xhr ? evt.detail.xhr.responseText : "request failed";
      try { text = JSON.parse(text).error || text; } catch (e) { /* keep the raw text */ }
      outlet.textContent = "failed: " + text;
      outlet.className = "result error";
    }
  });

  document.addEventListener("htmx:afterSettle", function (evt) { drawCharts(evt.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
})();
