import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a Baton server on :4200 (`npm start` in another terminal).
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 300 },
  server: {
    proxy: { "/api": "http://127.0.0.1:4200", "/ui-settings": "http://127.0.0.1:4200" },
  },
});
