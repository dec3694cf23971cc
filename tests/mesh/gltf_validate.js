// Validate a glTF/GLB file with the Khronos glTF validator; print its report summary as JSON.
// Usage: NODE_PATH=<dir>/node_modules node gltf_validate.js FILE
const fs = require("fs");
const validator = require("gltf-validator");

const data = new Uint8Array(fs.readFileSync(process.argv[2]));
validator
  .validateBytes(data, { maxIssues: 200 })
  .then((report) => {
    const issues = report.issues;
    console.log(JSON.stringify({
      errors: issues.numErrors,
      warnings: issues.numWarnings,
      messages: issues.messages.filter((m) => m.severity <= 1).slice(0, 20),
      validatorVersion: report.validatorVersion,
    }));
  })
  .catch((error) => {
    console.error(String(error));
    process.exit(2);
  });
