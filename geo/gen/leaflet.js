// Copies leaflet's built files (the script, its stylesheet, its marker
// images and its licence) into the portal's embedded static assets.
// Usage: node leaflet.js ../../portal/static/leaflet
'use strict'
const fs = require('fs')
const path = require('path')

const dst = process.argv[2]
const src = path.dirname(require.resolve('leaflet/package.json'))
fs.mkdirSync(path.join(dst, 'images'), { recursive: true })
for (const f of ['dist/leaflet.js', 'dist/leaflet.css', 'LICENSE']) {
  fs.copyFileSync(path.join(src, f), path.join(dst, path.basename(f)))
}
for (const f of fs.readdirSync(path.join(src, 'dist/images'))) {
  fs.copyFileSync(path.join(src, 'dist/images', f), path.join(dst, 'images', f))
}
fs.writeFileSync(path.join(dst, 'VERSION'), require('leaflet/package.json').version + '\n')
console.log('vendored leaflet', require('leaflet/package.json').version, 'into', dst)
