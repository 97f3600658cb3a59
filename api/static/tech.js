// Technicians' pages: a sign's live readings (server-sent events) and picking a place on a map.
// Every page works without this file: the live page then reloads itself, the forms take typed values.
(function () {
  "use strict";

  function liveReadings(el) {
    var rows = document.getElementById("live-rows");
    var state = document.getElementById("live-state");
    var count = document.getElementById("live-count");
    var seen = 0;
    var clock = new Intl.DateTimeFormat(el.dataset.lang === "en" ? "en-GB" : "sv-SE",
      { timeZone: el.dataset.tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    var stamp = new Intl.DateTimeFormat(el.dataset.lang === "en" ? "en-GB" : "sv-SE",
      { timeZone: el.dataset.tz, dateStyle: "short", timeStyle: "short" });
    var decimal = el.dataset.lang === "en" ? "." : ",";
    function fixed(x) { return x.toFixed(1).replace(".", decimal); }
    function text(id, value) { var node = document.getElementById(id); if (node) { node.textContent = value; } }
    state.textContent = el.dataset.waiting;
    var source = new EventSource(el.dataset.stream);
    source.addEventListener("open", function () { state.textContent = el.dataset.connected; });
    source.addEventListener("error", function () { state.textContent = el.dataset.waiting; });
    source.addEventListener("status", function (e) {
      var s = JSON.parse(e.data);
      state.textContent = el.dataset.connected;
      text("hb-at", s.heartbeat_at ? stamp.format(new Date(s.heartbeat_at)) : "–");
      text("hb-battery", s.battery_v === null ? "–" : fixed(s.battery_v) + " V");
      text("hb-clock", s.clock_offset_s === null ? "–" : fixed(s.clock_offset_s) + " s");
    });
    source.addEventListener("missed", function (e) {
      state.textContent = el.dataset.missed.replace("{n}", JSON.parse(e.data).n);
    });
    source.addEventListener("passes", function (e) {
      var m = JSON.parse(e.data);
      var empty = rows.querySelector("tr.empty");
      if (empty) { empty.remove(); }
      m.passes.forEach(function (p) {
        var tr = document.createElement("tr");
        tr.className = "new";
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = clock.format(new Date(p[0]));
        var speed = document.createElement("td");
        speed.textContent = fixed(p[1]) + " km/h";
        var dir = document.createElement("td");
        dir.textContent = el.dataset[p[2]] || p[2];
        tr.appendChild(th); tr.appendChild(speed); tr.appendChild(dir);
        rows.insertBefore(tr, rows.firstChild);
      });
      while (rows.children.length > 200) { rows.removeChild(rows.lastChild); }
      seen += m.n;
      count.textContent = String(seen);
      el.dataset.received = String(seen);
    });
  }

  function pickMap(el) {
    if (typeof L === "undefined") { return; }
    var data = document.getElementById("site-data");
    var sites = data ? JSON.parse(data.textContent) : [];
    var map = L.map(el, { scrollWheelZoom: false });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    } else {
      el.classList.add("map-plain");
    }
    var select = document.getElementById("site_id");
    var markers = {};
    var bounds = [];
    function mark(id) {
      Object.keys(markers).forEach(function (k) {
        markers[k].setStyle({ fillColor: k === String(id) ? "#b35c00" : "#1f5fa8" });
      });
    }
    sites.forEach(function (s) {
      var m = L.circleMarker([s.lat, s.lon], { radius: 9, color: "#222222", weight: 1.5, fillColor: "#1f5fa8", fillOpacity: 0.9 }).addTo(map);
      m.bindTooltip(s.name, { direction: "right", offset: [10, 0] });
      if (el.dataset.mode === "site" && select) {
        m.on("click", function () { select.value = String(s.id); mark(s.id); });
      }
      markers[String(s.id)] = m;
      bounds.push([s.lat, s.lon]);
    });
    if (select) { select.addEventListener("change", function () { mark(select.value); }); mark(select.value); }
    if (el.dataset.mode === "point") {
      var lat = document.getElementById("lat");
      var lon = document.getElementById("lon");
      var picked = null;
      map.on("click", function (e) {
        lat.value = e.latlng.lat.toFixed(6);
        lon.value = e.latlng.lng.toFixed(6);
        if (picked) { picked.setLatLng(e.latlng); } else { picked = L.marker(e.latlng).addTo(map); }
      });
    }
    if (bounds.length) { map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 }); }
    else { map.setView([59.33, 18.06], 11); }
    el.dataset.markers = String(sites.length);
  }

  var live = document.getElementById("live");
  if (live && typeof EventSource !== "undefined") { liveReadings(live); }
  var pick = document.getElementById("pick-map");
  if (pick) { pickMap(pick); }
}());
