/**
 * What the Lambda bundles give aws-xray-sdk-core when it asks for `semver`: `LAMBDA_BUNDLING`
 * (infra/bundling.ts) aliases the package to this module.
 *
 * The X-Ray SDK calls one function of semver, `gte`, to check the version of an AWS SDK v2 it is
 * asked to patch (patchers/aws_p.js, loaded with the SDK whether or not `captureAWS` is ever called;
 * the broker uses SDK v3). `require('semver')` loads the whole package, ranges, comparators and their
 * regular expressions, about 28 KB of every bundle. This module hands over semver's own `gte`, with
 * the SemVer class it compares with, and nothing else.
 *
 * The path is relative because esbuild's alias also catches `semver/...`. If npm ever stops hoisting
 * semver, the build fails here instead of running something else; test/infra/bundles.test.ts fails
 * if the X-Ray SDK, or anything else in a bundle, starts using another export of semver.
 */
module.exports = { gte: require('../node_modules/semver/functions/gte.js') };
