// Builds the console into dist/ with fixed file names: the server embeds
// dist/index.html, dist/console.js and dist/console.css as they are.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "",
    sourcemap: false,
    // One script and one stylesheet, named as the server serves them.
    rolldownOptions: {
      output: {
        entryFileNames: "console.js",
        assetFileNames: "console[extname]",
        codeSplitting: false,
      },
    },
  },
});
