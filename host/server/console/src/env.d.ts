// Stylesheets imported for their side effect (bundled by the build).
declare module "*.css";
