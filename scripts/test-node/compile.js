// Compiles simulator/tests/fixtures/evm/TestContracts.sol and SanctionsOracle.sol with solc-js (npm `solc`, pinned in
// package.json) and writes contracts.json beside it: per contract its creation and runtime code.
// Run: scripts/test-node/compile (installs the npm packages first).
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const dir = path.join(__dirname, '..', '..', 'simulator', 'tests', 'fixtures', 'evm');
// Each file is a source of its own: a contract's metadata (and so its bytecode) hashes only the
// sources it uses, so adding a file changes no other file's contracts.
const files = ['TestContracts.sol', 'SanctionsOracle.sol'];
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(
    files.map((f) => [f, { content: fs.readFileSync(path.join(dir, f), 'utf8') }]),
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'shanghai',
    outputSelection: { '*': { '*': ['evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
const result = { compiler: `solc ${solc.version()}`, settings: input.settings, contracts: {} };
for (const file of files) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    result.contracts[name] = {
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
  }
}
fs.writeFileSync(path.join(dir, 'contracts.json'), JSON.stringify(result, null, 1) + '\n');
console.log(`wrote ${Object.keys(result.contracts).length} contracts with ${result.compiler}`);
