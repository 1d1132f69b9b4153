// web.mjs runs in the browser page of e2e/ofrepjs_test.go: the stock
// OpenFeature web SDK with its OFREP provider, pointed at the page's own
// origin (which proxies /ofrep/ to ramp), with polling off, so that every
// change it sees arrives through the refresh stream the bulk answer offers.
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const token = new URLSearchParams(location.search).get('token');
window.configurationChanges = 0;
window.providerErrors = [];
window.details = (key, fallback) => {
  const d = OpenFeature.getClient().getBooleanDetails(key, fallback);
  return { value: d.value, variant: d.variant ?? '', reason: d.reason ?? '', errorCode: d.errorCode ?? '' };
};
OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, () => { window.configurationChanges++; });
OpenFeature.addHandler(ProviderEvents.Error, (e) => { window.providerErrors.push(String(e?.message)); });

await OpenFeature.setContext({ targetingKey: 'user-1', plan: 'vip' });
await OpenFeature.setProviderAndWait(new OFREPWebProvider({
  baseUrl: location.origin,
  headers: [['Authorization', `Bearer ${token}`]],
  pollInterval: 0,
}));
document.getElementById('state').textContent = 'ready';
