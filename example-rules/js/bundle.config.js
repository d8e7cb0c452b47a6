// The contract's interfaces are the component's imports, not modules to
// bundle: keep them external (and the bundler quiet about them).
export default { external: [/^docket:/] };
