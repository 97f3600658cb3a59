// The plan review map: one circle per site of the plan with the numbers of its controls (as in
// the list below it). Tiles only when the server names a tile URL (web.tiles_url).
(function () {
  "use strict";
  var el = document.getElementById("plan-map");
  var dataEl = document.getElementById("plan-data");
  if (!el || !dataEl || typeof L === "undefined") { return; }
  var sites = JSON.parse(dataEl.textContent);
  var map = L.map(el, { scrollWheelZoom: false });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  } else {
    el.classList.add("map-plain");
  }
  var bounds = [];
  sites.forEach(function (s) {
    var marker = L.circleMarker([s.lat, s.lon], {
      radius: 10, color: "#222222", weight: 1.5, fillColor: "#12355b", fillOpacity: 0.9
    }).addTo(map);
    marker.bindTooltip(s.name + " (" + s.numbers.join(", ") + ")",
      { permanent: true, direction: "right", offset: [10, 0], className: "site-label" });
    bounds.push([s.lat, s.lon]);
  });
  if (bounds.length) { map.fitBounds(bounds, { padding: [40, 40], maxZoom: 15 }); }
  else { map.setView([59.33, 18.06], 11); }
  el.dataset.markers = String(sites.length);
}());
