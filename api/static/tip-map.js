// The tip form's map: every site as a circle; a click on one picks it in the form's list of
// places (#site_id), a pick in the list marks it on the map. The list stays the way to pick
// without JavaScript, and the map is shown only when this script runs. The form may be swapped
// by htmx (its errors): the list is looked up each time, never kept.
(function () {
  "use strict";
  var wrap = document.getElementById("tip-map-wrap");
  var el = document.getElementById("tip-map");
  var dataEl = document.getElementById("tip-sites");
  var picked = document.getElementById("tip-map-picked");
  if (!wrap || !el || !dataEl || typeof L === "undefined") { return; }
  var sites = JSON.parse(dataEl.textContent);
  if (!sites.length) { return; }
  wrap.hidden = false;
  var map = L.map(el, { scrollWheelZoom: false, attributionControl: true });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  } else {
    el.classList.add("map-plain");
  }
  var plain = { radius: 8, color: "#222222", weight: 1.5, fillColor: "#ffffff", fillOpacity: 0.95 };
  var chosen = { radius: 11, color: "#222222", weight: 3, fillColor: "#0b5cad", fillOpacity: 1 };
  var markers = {};
  var bounds = [];
  function select() { return document.getElementById("site_id"); }

  function mark(id) {
    Object.keys(markers).forEach(function (k) { markers[k].marker.setStyle(k === id ? chosen : plain); });
    var m = markers[id];
    el.dataset.picked = m ? id : "";
    picked.textContent = m ? picked.dataset.picked + " " + m.site.street + " – " + m.site.name : picked.dataset.none;
    if (m) { m.marker.bringToFront(); }
  }

  sites.forEach(function (s) {
    var id = String(s.id);
    var marker = L.circleMarker([s.lat, s.lon], plain).addTo(map);
    marker.bindTooltip(s.street + " – " + s.name + " (" + el.dataset.pick + ")", { direction: "top" });
    marker.on("click", function () {
      var sel = select();
      if (!sel) { return; }
      sel.value = id;
      sel.dispatchEvent(new Event("change", { bubbles: true }));
    });
    markers[id] = { marker: marker, site: s };
    bounds.push([s.lat, s.lon]);
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "site_id") { mark(e.target.value); }
  });
  document.body.addEventListener("htmx:afterSwap", function () { var sel = select(); mark(sel ? sel.value : ""); });
  map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
  Object.keys(markers).forEach(function (id) {  // drawn once the map has its view: name each circle's site
    var path = markers[id].marker.getElement();
    if (path) { path.setAttribute("data-site", id); }
  });
  var sel = select();
  mark(sel ? sel.value : "");
  el.dataset.markers = String(sites.length);
}());
