import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { PAGE_ROUTES } from "./src/page-routes";

/**
 * Puts, into index.html, the chunks each page needs and a line of script that adds
 * `<link rel="modulepreload">` for the page the URL opens: its chunks download alongside the
 * entry script instead of after it has run.
 */
function pageChunkPreload(): Plugin {
  return {
    name: "baton-page-chunk-preload",
    enforce: "post",
    transformIndexHtml: {
      order: "post",
      handler(html, context) {
        if (!context.bundle) return html;
        const chunks = Object.values(context.bundle).flatMap((c) => (c.type === "chunk" ? [c] : []));
        const byName = new Map(chunks.map((c) => [c.fileName, c]));
        const files: Record<string, string[]> = {};
        for (const [, file] of PAGE_ROUTES) {
          const chunk = chunks.find((c) => c.facadeModuleId?.endsWith(`/src/pages/${file}.tsx`));
          if (!chunk) continue;
          const seen = new Set<string>();
          const visit = (name: string) => {
            const c = byName.get(name);
            if (!c || c.isEntry || seen.has(name)) return;
            seen.add(name);
            c.imports.forEach(visit);
          };
          visit(chunk.fileName);
          files[file] = [...seen];
        }
        const script = `(function(){var r=${JSON.stringify(PAGE_ROUTES)},f=${JSON.stringify(files)},p=location.pathname;for(var i=0;i<r.length;i++)if(new RegExp(r[i][0]).test(p)){(f[r[i][1]]||[]).forEach(function(n){var l=document.createElement("link");l.rel="modulepreload";l.href="/"+n;document.head.appendChild(l)});break}})();`;
        return html.replace("</head>", `<script>${script}</script>\n  </head>`);
      },
    },
  };
}

// `npm run dev` proxies the API to a Baton server on :4200 (`npm start` in another terminal).
export default defineConfig({
  plugins: [react(), pageChunkPreload()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 300 },
  server: {
    proxy: { "/api": "http://127.0.0.1:4200", "/ui-settings": "http://127.0.0.1:4200" },
  },
});
