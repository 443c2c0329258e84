// The report's charts: plain SVG drawn from the JSON in #report-data, with no library and
// nothing fetched. Each figure with data-chart="id" gets its spec from data.charts[id]; once
// drawn it is marked data-drawn="true" with data-marks="<bars, cells or points drawn>", and a
// chart that fails is marked data-drawn="false" with the error, so a test can tell.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";  // the SVG namespace name, not a download
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                 "#ff9da7", "#9c755f", "#bab0ac"];

  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(NS, tag);
    for (var key in attrs) { if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]); }
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "";
    if (kind === "pct") return (value * 100).toFixed(value < 0.1 ? 1 : 0) + "%";
    if (kind === "money") return "$" + Math.round(value).toLocaleString("en-US");
    if (kind === "score") return value.toFixed(1);
    return Math.round(value).toLocaleString("en-US");
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var ticks = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < ticks.length; i++) { if (ticks[i] * step >= value) return ticks[i] * step; }
    return 10 * step;
  }

  // An SVG at its natural size (text stays 11px), shrunk by CSS when the column is narrower.
  function canvas(width, height) {
    return el("svg", {viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img"});
  }

  function mark(node, title, value, extra) {
    node.setAttribute("class", "mark");
    node.setAttribute("data-value", value);
    for (var key in (extra || {})) node.setAttribute("data-" + key, extra[key]);
    el("title", {}, node, title);
    return node;
  }

  // Legend entries laid out left to right from x, wrapping before maxX: [{x, row}] and the rows used.
  function legendLayout(names, x, maxX) {
    var offset = x, row = 0, places = names.map(function (name) {
      var width = 22 + 6.5 * name.length;
      if (offset + width > maxX && offset > x) { offset = x; row++; }
      var place = {x: offset, row: row};
      offset += width;
      return place;
    });
    return {places: places, rows: names.length ? row + 1 : 0};
  }

  function legend(svg, names, colors, layout, top) {
    names.forEach(function (name, i) {
      var p = layout.places[i], y = top + 14 + 16 * p.row;
      el("rect", {x: p.x, y: y - 9, width: 10, height: 10, fill: colors[i]}, svg);
      el("text", {x: p.x + 14, y: y, "class": "legend"}, svg, name);
    });
  }

  // Bars: spec {categories, series: [{name, values, color}], stacked, horizontal, format}.
  function bars(figure, spec) {
    var series = spec.series, categories = spec.categories, marks = 0;
    var colors = series.map(function (s, i) { return s.color || PALETTE[i % PALETTE.length]; });
    var totals = categories.map(function (_, c) {
      return spec.stacked ? series.reduce(function (sum, s) { return sum + (s.values[c] || 0); }, 0)
                          : Math.max.apply(null, series.map(function (s) { return s.values[c] || 0; }));
    });
    var max = niceMax(Math.max.apply(null, totals.concat([0])));
    var names = series.map(function (s) { return s.name; });
    var svg, layout, legendRow;
    if (spec.horizontal) {
      var labelWidth = spec.labelWidth || 190, plot = 420, band = spec.stacked || series.length === 1 ? 24 : 12 * series.length + 8;
      layout = legendLayout(series.length > 1 ? names : [], labelWidth, labelWidth + plot + 80);
      legendRow = layout.rows * 16 + (layout.rows ? 8 : 0);
      svg = canvas(labelWidth + plot + 90, legendRow + categories.length * band + 10);
      legend(svg, series.length > 1 ? names : [], colors, layout, 0);
      categories.forEach(function (category, c) {
        var top = legendRow + c * band;
        el("text", {x: labelWidth - 8, y: top + band / 2 + 4, "text-anchor": "end", "class": "axis"}, svg, category);
        var x = labelWidth;
        series.forEach(function (s, i) {
          var value = s.values[c] || 0, w = plot * value / max;
          var y = spec.stacked || series.length === 1 ? top + 3 : top + 4 + i * 12;
          var h = spec.stacked || series.length === 1 ? band - 6 : 11;
          if (value > 0) {
            mark(el("rect", {x: x, y: y, width: Math.max(w, 1), height: h, fill: colors[i]}, svg),
                 category + " / " + s.name + ": " + fmt(value, spec.format), value, {category: category, series: s.name});
            marks++;
          }
          if (spec.stacked) { x += w; } else if (value > 0 || series.length === 1) {
            el("text", {x: labelWidth + w + 4, y: y + h - 2, "class": "value"}, svg, fmt(value, spec.format));
          }
        });
        if (spec.stacked) el("text", {x: x + 4, y: top + band / 2 + 4, "class": "value"}, svg, fmt(totals[c], spec.format));
      });
    } else {
      var left = 60, plotH = 200, groupW = Math.max(40, (spec.stacked ? 1 : series.length) * 12 + 14);
      var width = Math.max(left + categories.length * groupW + 20, 360), bottom = 80;
      layout = legendLayout(series.length > 1 ? names : [], left, width);
      legendRow = layout.rows * 16 + (layout.rows ? 12 : 8);
      svg = canvas(width, legendRow + plotH + bottom);
      legend(svg, series.length > 1 ? names : [], colors, layout, 0);
      var base = legendRow + plotH;
      [0, 0.5, 1].forEach(function (t) {
        var y = base - plotH * t;
        el("line", {x1: left, x2: width - 10, y1: y, y2: y, "class": "grid"}, svg);
        el("text", {x: left - 6, y: y + 4, "text-anchor": "end", "class": "axis"}, svg, fmt(max * t, spec.format));
      });
      categories.forEach(function (category, c) {
        var x0 = left + c * groupW + 7, stackTop = base;
        series.forEach(function (s, i) {
          var value = s.values[c] || 0, h = plotH * value / max;
          if (value <= 0) return;
          var wide = spec.stacked || series.length === 1;
          var x = wide ? x0 : x0 + i * 12, w = wide ? groupW - 14 : 11;
          var y = spec.stacked ? stackTop - h : base - h;
          stackTop = spec.stacked ? y : stackTop;
          mark(el("rect", {x: x, y: y, width: w, height: Math.max(h, 1), fill: colors[i]}, svg),
               category + " / " + s.name + ": " + fmt(value, spec.format), value, {category: category, series: s.name});
          marks++;
        });
        var cx = x0 + (spec.stacked || series.length === 1 ? groupW - 14 : series.length * 12) / 2;
        el("text", {x: cx, y: base + 12, "text-anchor": "end", transform: "rotate(-35 " + cx + " " + (base + 12) + ")",
                    "class": "axis"}, svg, category);
      });
    }
    figure.insertBefore(svg, figure.firstChild);
    return marks;
  }

  function shade(t) {  // 0..1 -> light to dark blue
    var a = [239, 243, 255], b = [8, 69, 148];
    var c = a.map(function (v, i) { return Math.round(v + (b[i] - v) * Math.max(0, Math.min(1, t))); });
    return "rgb(" + c.join(",") + ")";
  }

  // Heatmap: spec {rows, cols, values: [[...]], labels: [[...]] (optional), format, rowTitle, colTitle}.
  function heatmap(figure, spec) {
    var longest = Math.max.apply(null, spec.cols.map(function (c) { return String(c).length; }).concat([1]));
    var cell = spec.cell || 44, left = spec.labelWidth || 120, marks = 0;
    var top = spec.rotateCols ? Math.round(40 + 3.8 * longest) : 60;  // room for labels rotated 35 degrees
    var flat = [].concat.apply([], spec.values).filter(function (v) { return v !== null && v !== undefined; });
    var max = spec.max || Math.max.apply(null, flat.concat([0])) || 1;
    var svg = canvas(left + spec.cols.length * cell + (spec.rotateCols ? Math.round(5 * longest) : 20),
                     top + spec.rows.length * cell + 10);
    if (spec.colTitle) el("text", {x: left, y: 14, "class": "axis-title"}, svg, spec.colTitle);
    if (spec.rowTitle) el("text", {x: 4, y: top - 30, "class": "axis-title"}, svg, spec.rowTitle);
    spec.cols.forEach(function (col, j) {
      var x = left + j * cell + cell / 2;
      el("text", {x: x, y: top - 8, "text-anchor": spec.rotateCols ? "start" : "middle",
                  transform: spec.rotateCols ? "rotate(-35 " + x + " " + (top - 8) + ")" : null, "class": "axis"}, svg, col);
    });
    spec.rows.forEach(function (row, i) {
      el("text", {x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", "class": "axis"}, svg, row);
      spec.cols.forEach(function (col, j) {
        var value = spec.values[i][j];
        if (value === null || value === undefined) return;
        var x = left + j * cell, y = top + i * cell, t = value / max;
        mark(el("rect", {x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, fill: shade(t)}, svg),
             row + " / " + col + ": " + fmt(value, spec.format), value, {row: row, col: col});
        var label = spec.labels ? spec.labels[i][j] : fmt(value, spec.format);
        el("text", {x: x + cell / 2, y: y + cell / 2 + 4, "text-anchor": "middle",
                    "class": t > 0.55 ? "cell light" : "cell"}, svg, label);
        marks++;
      });
    });
    figure.insertBefore(svg, figure.firstChild);
    return marks;
  }

  // Lines over time: spec {series: [{name, points: [[iso time, y]]}], format, yMin, yMax}.
  function lines(figure, spec) {
    var left = 60, width = 600, plotH = 200, top = 40, marks = 0;
    var times = [], values = [];
    spec.series.forEach(function (s) { s.points.forEach(function (p) { times.push(Date.parse(p[0])); values.push(p[1]); }); });
    var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    if (t1 === t0) { t0 -= 86400000; t1 += 86400000; }
    var y0 = spec.yMin !== undefined ? spec.yMin : Math.min.apply(null, values);
    var y1 = spec.yMax !== undefined ? spec.yMax : Math.max.apply(null, values);
    var layout = legendLayout(spec.series.map(function (s) { return s.name; }), left, width);
    top = layout.rows * 16 + 16;
    var svg = canvas(width + 10, top + plotH + 30);
    legend(svg, spec.series.map(function (s) { return s.name; }),
           spec.series.map(function (s, i) { return PALETTE[i % PALETTE.length]; }), layout, 0);
    function px(t) { return left + (width - left - 10) * (t - t0) / (t1 - t0); }
    function py(v) { return top + plotH - plotH * (v - y0) / ((y1 - y0) || 1); }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var v = y0 + (y1 - y0) * f;
      el("line", {x1: left, x2: width - 10, y1: py(v), y2: py(v), "class": "grid"}, svg);
      el("text", {x: left - 6, y: py(v) + 4, "text-anchor": "end", "class": "axis"}, svg, fmt(v, spec.format));
    });
    [t0, (t0 + t1) / 2, t1].forEach(function (t) {
      el("text", {x: px(t), y: top + plotH + 18, "text-anchor": "middle", "class": "axis"}, svg,
         new Date(t).toISOString().slice(0, 10));
    });
    spec.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      var path = s.points.map(function (p, k) { return (k ? "L" : "M") + px(Date.parse(p[0])) + " " + py(p[1]); }).join(" ");
      el("path", {d: path, fill: "none", stroke: color, "stroke-width": 2}, svg);
      s.points.forEach(function (p) {
        mark(el("circle", {cx: px(Date.parse(p[0])), cy: py(p[1]), r: 4, fill: color}, svg),
             s.name + " " + p[0].slice(0, 10) + ": " + fmt(p[1], spec.format), p[1], {series: s.name, time: p[0]});
        marks++;
      });
    });
    figure.insertBefore(svg, figure.firstChild);
    return marks;
  }

  var KINDS = {bars: bars, heatmap: heatmap, lines: lines};
  var data = JSON.parse(document.getElementById("report-data").textContent);
  Array.prototype.forEach.call(document.querySelectorAll("figure[data-chart]"), function (figure) {
    var spec = data.charts[figure.getAttribute("data-chart")];
    try {
      if (!spec || !KINDS[spec.kind]) throw new Error("no chart spec for " + figure.getAttribute("data-chart"));
      var marks = KINDS[spec.kind](figure, spec);
      figure.setAttribute("data-marks", String(marks));
      figure.setAttribute("data-drawn", marks > 0 ? "true" : "false");
    } catch (error) {
      figure.setAttribute("data-drawn", "false");
      figure.setAttribute("data-error", String(error && error.message || error));
    }
  });
  document.body.setAttribute("data-charts-done", "true");
})();
