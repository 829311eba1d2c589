/** The agent's service plumbing: upstream listeners, service addresses, the node DNS. */
export { AgentServices, type AgentServicesOptions, type ContainerDns } from './agent-services.ts';
export { upstreamEnvName, UpstreamListeners } from './upstream-listeners.ts';
export { PassingFeeds, endpointsOf } from './passing-feeds.ts';
export { ServiceAddressProxy, fallbackAddress } from './service-address-proxy.ts';
export { NodeDns, answerServiceName } from './node-dns.ts';
export { LoopbackAddresses } from './loopback-addresses.ts';
