/**
 * The house rules, checked by `npm test` (npm run depcruise): three floors, each importing only
 * downwards. src/ is the kit; src/cli/ sits on it and only wires; modes/<name>/ are adapters that
 * never import each other; bench/ and test/ sit on top. No import circles, type-only included:
 * a type belongs below the modules that use it.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'kit-imports-nothing-above',
      comment: 'src/ is the kit: it imports nothing from the CLI, the modes, the bench, the tests or the docs.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^(src/cli|modes|bench|test|docs)/' },
    },
    {
      name: 'modes-stand-alone',
      comment: 'modes/<a> never imports modes/<b>: each adapter composes the kit, not another mode.',
      severity: 'error',
      from: { path: '^modes/([^/.]+)' },
      to: { path: '^modes/', pathNot: '^modes/$1([./]|$)' },
    },
    {
      name: 'bench-not-on-cli',
      comment: 'bench/ sits on the kit, beside the CLI: `webhist bench` wires the harness, never the reverse.',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-circular',
      comment: 'No import circles, type-only imports included: declare a shared type below its users.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shipped-code-uses-no-dev-dependency',
      comment: 'What `npx webhist` runs from dist must not need a devDependency.',
      severity: 'error',
      from: { path: '^(src|modes|bench/harness|bench/process)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-orphans',
      comment: 'A module in the kit, the modes or the harness that nothing imports is dead code, or an entry point to list here.',
      severity: 'error',
      from: {
        orphan: true,
        path: '^(src|modes|bench/harness|bench/process)/',
        // Entry points started as processes or worker threads by file name, not imported.
        pathNot: ['^src/cli/main\\.ts$', '^bench/harness/(sampler-worker|node-hello|fastcgi-floor)\\.ts$'],
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    // TypeScript 7 (the native compiler) has no JavaScript API for dependency-cruiser yet: swc parses.
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
