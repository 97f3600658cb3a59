// The map of sites on the home page: one circle per site in its share colour, its name beside it,
// a link to its page in the popup. Tiles only when the server names a tile URL (web.tiles_url);
// without them the sites and names stand on a plain background. Where sites cluster, a name that
// would overlap one already placed is hidden (worst share placed first) and shows on hover or
// when its popup opens; the list of sites beside the map names them all.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var dataEl = document.getElementById("site-data");
  if (!el || !dataEl || typeof L === "undefined") { return; }
  var sites = JSON.parse(dataEl.textContent);
  var map = L.map(el, { scrollWheelZoom: false, attributionControl: true });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  } else {
    el.classList.add("map-plain");
  }
  var bounds = [];
  var placed = [];
  sites.forEach(function (s) {
    var marker = L.circleMarker([s.lat, s.lon], {
      radius: 9, color: "#222222", weight: 1.5, fillColor: s.colour, fillOpacity: 0.95
    }).addTo(map);
    marker.bindTooltip(s.name, { permanent: true, direction: "right", offset: [10, 0], className: "site-label" });
    var popup = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = s.name;
    var share = document.createElement("p");
    share.textContent = s.share === null ? el.dataset.none
      : Math.round(s.share * 100) + " % " + el.dataset.share;
    var link = document.createElement("a");
    link.href = "/sites/" + s.id;
    link.textContent = el.dataset.open;
    popup.appendChild(title); popup.appendChild(share); popup.appendChild(link);
    marker.bindPopup(popup);
    marker.on("mouseover popupopen", function () { show(marker, true); });
    marker.on("mouseout popupclose", function () { declutter(); });
    placed.push({ marker: marker, share: s.share === null ? -1 : s.share });
    bounds.push([s.lat, s.lon]);
  });

  function show(marker, on) {
    var t = marker.getTooltip() && marker.getTooltip().getElement();
    if (t) { t.classList.toggle("label-hidden", !on); }
  }

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function declutter() {
    var kept = [];
    placed.slice().sort(function (a, b) { return b.share - a.share; }).forEach(function (p) {
      var t = p.marker.getTooltip() && p.marker.getTooltip().getElement();
      if (!t) { return; }
      t.classList.remove("label-hidden");
      var r = t.getBoundingClientRect();
      var clash = kept.some(function (k) { return overlaps(r, k); });
      if (clash) { t.classList.add("label-hidden"); } else { kept.push(r); }
    });
    el.dataset.labelsShown = String(kept.length);
  }
  map.on("zoomend moveend", declutter);
  if (bounds.length) { map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 }); }
  else { map.setView([59.33, 18.06], 11); }
  declutter();
  el.dataset.markers = String(sites.length);
}());
