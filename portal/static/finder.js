// The LUG finder's two scripts, both optional: "Use my location" (the
// browser asks the visitor first; the position fills the form for one
// search) and the map of the results (Leaflet, tiles from the configured
// server). Without JavaScript the finder is a form and a list.
'use strict';
(function () {
  var form = document.getElementById('finder-form');
  var locate = document.getElementById('locate');
  if (form && locate && navigator.geolocation) {
    var status = document.getElementById('locate-status');
    locate.hidden = false;
    document.getElementById('locate-help').hidden = false;
    locate.addEventListener('click', function () {
      status.textContent = 'Asking your browser for your position…';
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById('lat').value = pos.coords.latitude.toFixed(4);
        document.getElementById('lon').value = pos.coords.longitude.toFixed(4);
        document.getElementById('place').value = '';
        form.submit();
      }, function (err) {
        status.textContent = 'Your position is not available (' + err.message + '). Type a city instead.';
      }, { maximumAge: 600000, timeout: 15000 });
    });
  }
  var el = document.getElementById('map');
  if (!el || typeof L === 'undefined') return;
  var map = L.map(el, { scrollWheelZoom: false });
  L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution ? escapeHTML(el.dataset.attribution) : '', maxZoom: 18 }).addTo(map);
  var bounds = [];
  if (el.dataset.lat) {
    var origin = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
    L.circle(origin, { radius: parseFloat(el.dataset.radius) * 1000, weight: 1, fillOpacity: 0.05 }).addTo(map);
    L.circleMarker(origin, { radius: 6 }).addTo(map).bindTooltip('You');
    bounds.push(origin);
  }
  document.querySelectorAll('#results li[data-lat]').forEach(function (li) {
    var at = [parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)];
    var a = document.createElement('a');
    a.href = li.dataset.href;
    a.textContent = li.dataset.name;
    L.marker(at, { title: li.dataset.name, alt: li.dataset.name }).addTo(map).bindPopup(a);
    bounds.push(at);
  });
  if (bounds.length > 1) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 10 });
  else if (bounds.length === 1) map.setView(bounds[0], 9);
  else map.setView([20, 0], 2);
  function escapeHTML(s) {
    var d = document.createElement('div');
    d.textContent = s;
    return d.innerHTML;
  }
})();
