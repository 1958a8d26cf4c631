import { defineConfig } from 'vite';

// The panel's build: every file flat in one folder (the dashboard-asset
// route serves /dashboard/{asset}: one path segment), relative URLs (the
// page is served under the API's stage, /dashboard/ locally and
// /<stage>/dashboard/ in AWS), hashed names for everything but index.html.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../shared/dashboard/site/app',
    emptyOutDir: true,
    assetsDir: '',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
