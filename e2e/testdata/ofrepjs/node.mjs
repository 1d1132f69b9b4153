// node.mjs evaluates the conformance flags of e2e/ofrep_test.go through the
// stock OpenFeature server SDK for JavaScript and its OFREP provider, against
// the ramp server at $RAMP_URL with the SDK token $RAMP_SDK_TOKEN, and prints
// one JSON object: each case's evaluation details, for the Go test to check.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const url = process.env.RAMP_URL;
const token = process.env.RAMP_SDK_TOKEN;

// details keeps the fields the test checks.
const details = (d) => ({
  value: d.value,
  variant: d.variant ?? '',
  reason: d.reason ?? '',
  errorCode: d.errorCode ?? '',
  metadata: d.flagMetadata ?? {},
});

await OpenFeature.setProviderAndWait('good', new OFREPProvider({ baseUrl: url, headers: [['Authorization', `Bearer ${token}`]] }));
await OpenFeature.setProviderAndWait('bad', new OFREPProvider({ baseUrl: url, headers: [['Authorization', 'Bearer ramp_sdk_nope_nope']] }));
const of = OpenFeature.getClient('good');
const user = { targetingKey: 'user-1' };

const out = {
  boolean: details(await of.getBooleanDetails('enabled', false, user)),
  stringStaff: details(await of.getStringDetails('banner', 'default', { ...user, email: 'ann@example.com' })),
  stringOthers: details(await of.getStringDetails('banner', 'default', user)),
  number: details(await of.getNumberDetails('limit', 0, user)),
  numberVip: details(await of.getNumberDetails('limit', 0, { ...user, plan: 'vip' })),
  object: details(await of.getObjectDetails('layout', {}, user)),
  disabled: details(await of.getBooleanDetails('dark', true, user)),
  missing: details(await of.getBooleanDetails('no-such-flag', true, user)),
  typeMismatch: details(await of.getBooleanDetails('banner', true, user)),
  noTargetingKey: details(await of.getBooleanDetails('checkout', true, {})),
  badToken: details(await OpenFeature.getClient('bad').getBooleanDetails('enabled', false, user)),
  split: {},
};
for (let i = 0; i < 200; i++) {
  out.split[`user-${i}`] = (await of.getBooleanDetails('checkout', false, { targetingKey: `user-${i}` })).variant;
}
await OpenFeature.close();
console.log(JSON.stringify(out));
