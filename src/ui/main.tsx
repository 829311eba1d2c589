/** The UI's entry: the router (one URL per view, under /ui/), the query cache, the event stream. */
import { lazy, StrictMode, Suspense, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter } from 'react-router';
import { RouterProvider } from 'react-router/dom';
import { QueryClientProvider } from '@tanstack/react-query';
import { queryClient, startEventStream } from './live.ts';
import { Layout } from './parts/layout.tsx';
import { Overview } from './pages/overview.tsx';
import { Jobs } from './pages/jobs.tsx';
import './styles.css';

// Pages with heavy parts (the editor, the terminal and charts, the graph) load with their page.
const Job = lazy(() => import('./pages/job.tsx'));
const RunJob = lazy(() => import('./pages/run-job.tsx'));
const Alloc = lazy(() => import('./pages/alloc.tsx'));
const Nodes = lazy(() => import('./pages/nodes.tsx'));
const Topology = lazy(() => import('./pages/topology.tsx'));
const Services = lazy(() => import('./pages/services.tsx'));
const Kv = lazy(() => import('./pages/kv.tsx'));
const Dependencies = lazy(() => import('./pages/dependencies.tsx'));
const Events = lazy(() => import('./pages/events.tsx'));
const Servers = lazy(() => import('./pages/servers.tsx'));

function page(node: ReactNode): ReactNode {
  return <Suspense fallback={<p className="muted">Loading…</p>}>{node}</Suspense>;
}

const router = createBrowserRouter(
  [
    {
      path: '/',
      element: <Layout />,
      children: [
        { index: true, element: <Overview /> },
        { path: 'jobs', element: <Jobs /> },
        { path: 'jobs/:id', element: page(<Job />) },
        { path: 'jobs/:id/edit', element: page(<RunJob />) },
        { path: 'run', element: page(<RunJob />) },
        { path: 'allocations/:id', element: page(<Alloc />) },
        { path: 'nodes', element: page(<Nodes />) },
        { path: 'topology', element: page(<Topology />) },
        { path: 'services', element: page(<Services />) },
        { path: 'services/:name', element: page(<Services />) },
        { path: 'kv/*', element: page(<Kv />) },
        { path: 'dependencies', element: page(<Dependencies />) },
        { path: 'events', element: page(<Events />) },
        { path: 'servers', element: page(<Servers />) },
        { path: '*', element: <p>No such page.</p> },
      ],
    },
  ],
  { basename: '/ui' },
);

startEventStream();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
