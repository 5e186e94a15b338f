// WARD FLUX UI behaviour: local times, large type, the Monitor page's "new device down"
// signal, and device charts (uPlot over the Prometheus query API). No inline scripts: the
// page's CSP allows scripts from this origin only.
(function () {
  "use strict";

  // <time datetime="...Z"> in the browser's time zone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute("datetime"); }
    });
  }

  // Large type for wall screens, remembered in a cookie so the server renders it too.
  function largeToggle() {
    var b = document.getElementById("toggle-large");
    if (!b) return;
    b.addEventListener("click", function () {
      var on = !document.documentElement.classList.contains("large");
      document.documentElement.classList.toggle("large", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      document.cookie = "wardflux_large=" + (on ? "1" : "0") + "; Path=/; Max-Age=31536000; SameSite=Strict";
    });
  }

  // Theme: system -> dark -> light -> system, remembered in a cookie.
  function themeToggle() {
    var b = document.getElementById("toggle-theme");
    if (!b) return;
    b.addEventListener("click", function () {
      var next = { "": "dark", "dark": "light", "light": "" }[b.dataset.theme || ""];
      var html = document.documentElement;
      html.classList.remove("dark", "light");
      if (next) html.classList.add(next);
      b.dataset.theme = next;
      b.textContent = "Theme: " + (next || "system");
      document.cookie = "wardflux_theme=" + (next || "system") + "; Path=/; Max-Age=31536000; SameSite=Strict";
      document.querySelectorAll("button.range.on").forEach(function (r) { r.click(); });
    });
  }

  // Monitor: when the number of down devices grows, change the title and beep (opt-in).
  var baseTitle = document.title, lastDown = null;
  function downSignal() {
    var box = document.getElementById("alert-new-down");
    var counts = document.getElementById("monitor-counts");
    if (!counts) return;
    if (box && box.dataset.bound !== "1") {
      box.dataset.bound = "1";
      box.checked = localStorage.getItem("wardflux-alert-new-down") === "1";
      box.addEventListener("change", function () {
        localStorage.setItem("wardflux-alert-new-down", box.checked ? "1" : "0");
        if (!box.checked) document.title = baseTitle;
      });
    }
    var down = parseInt(counts.dataset.down || "0", 10);
    if (box && box.checked && lastDown !== null && down > lastDown) {
      document.title = "(" + down + " down) " + baseTitle;
      try {
        var ctx = new (window.AudioContext || window.webkitAudioContext)();
        var o = ctx.createOscillator(); o.frequency.value = 880; o.connect(ctx.destination);
        o.start(); o.stop(ctx.currentTime + 0.25);
      } catch (e) { /* no audio: the title still changes */ }
    } else if (down === 0) {
      document.title = baseTitle;
    }
    lastDown = down;
  }

  // Charts: each <figure class="chart" data-query=...> is a query_range over the chosen range.
  var RANGES = { "30m": 1800, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
  function seriesName(m) {
    var keys = Object.keys(m).filter(function (k) {
      return k !== "__name__" && k !== "device_id" && k !== "device" && k !== "ip";
    });
    return keys.length ? keys.map(function (k) { return m[k]; }).join(" ") : (m.__name__ || "value");
  }
  function draw(fig, secs) {
    var end = Math.floor(Date.now() / 1000), start = end - secs;
    var step = Math.max(10, Math.floor(secs / 300));
    var url = "/api/v1/query_range?query=" + encodeURIComponent(fig.dataset.query) +
      "&start=" + start + "&end=" + end + "&step=" + step;
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
      fig.innerHTML = "";
      var cap = document.createElement("figcaption"); cap.textContent = fig.dataset.title;
      fig.appendChild(cap);
      var res = (j && j.data && j.data.result) || [];
      if (!res.length) {
        if (fig.hasAttribute("data-optional")) { fig.classList.add("empty"); return; }
        var p = document.createElement("p"); p.className = "muted"; p.textContent = "No data in this range.";
        fig.appendChild(p); return;
      }
      fig.classList.remove("empty");
      var xs = [], idx = {};
      // The same grid as the query's (start + k * step), so every value finds its slot.
      for (var t = start; t <= end; t += step) { idx[t] = xs.length; xs.push(t); }
      var data = [xs], series = [{}], drawn = 0;
      var palette = ["#7cc4ff", "#3ddc97", "#ffb84d", "#ff6b6b", "#c792ea", "#89ddff"];
      res.slice(0, 12).forEach(function (s, i) {
        var ys = new Array(xs.length).fill(null);
        s.values.forEach(function (v) { var k = idx[v[0]]; if (k !== undefined) ys[k] = parseFloat(v[1]); });
        data.push(ys);
        drawn += ys.filter(function (y) { return y !== null; }).length;
        series.push({ label: seriesName(s.metric), stroke: palette[i % palette.length], width: 2,
          points: { show: true, size: 4 }, spanGaps: false });
      });
      var w = Math.max(300, fig.clientWidth - 16);
      var css = getComputedStyle(document.documentElement);
      var muted = css.getPropertyValue("--muted").trim(), line = css.getPropertyValue("--line").trim();
      var axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
      new uPlot({ width: w, height: 200, series: series, axes: [axis, Object.assign({}, axis)] }, data, fig);
      fig.dataset.points = String(drawn);
    }).catch(function () {
      fig.textContent = fig.dataset.title + ": the query failed.";
    });
  }
  function charts() {
    var box = document.querySelector(".charts");
    if (!box || typeof uPlot === "undefined") return;
    var secs = 3600;
    function all() { box.querySelectorAll("figure.chart").forEach(function (f) { draw(f, secs); }); }
    document.querySelectorAll("button.range").forEach(function (b) {
      b.addEventListener("click", function () {
        document.querySelectorAll("button.range").forEach(function (x) { x.classList.remove("on"); });
        b.classList.add("on"); secs = RANGES[b.dataset.range] || 3600; all();
      });
    });
    all();
  }

  // Forms that destroy something ask first (data-confirm); no inline handlers under the CSP.
  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // Time-zone fields start as the browser's own zone (times are entered in local time).
  function localZone() {
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* keep UTC */ }
    document.querySelectorAll("input.local-tz").forEach(function (i) { if (!i.value && tz) i.value = tz; });
  }

  // <input type=file data-fill=ID> puts the chosen file's text into textarea #ID.
  document.addEventListener("change", function (e) {
    var t = e.target, id = t.dataset && t.dataset.fill;
    if (!id || !t.files || !t.files[0]) return;
    var r = new FileReader();
    r.onload = function () { document.getElementById(id).value = r.result; };
    r.readAsText(t.files[0]);
  });

  document.addEventListener("DOMContentLoaded", function () {
    localZone(); localTimes(document); largeToggle(); themeToggle(); downSignal(); charts();
  });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); downSignal(); });
})();
