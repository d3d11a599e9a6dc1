import Layout from './components/Layout.tsx'
import { useRoute } from './hooks/useRoute.ts'
import ChatPage from './pages/ChatPage.tsx'
import JobPage from './pages/JobPage.tsx'
import JobsPage from './pages/JobsPage.tsx'
import NotFoundPage from './pages/NotFoundPage.tsx'
import SystemPage from './pages/SystemPage.tsx'

export default function App() {
  const route = useRoute()
  return (
    <Layout route={route}>
      {route.name === 'chat' && <ChatPage />}
      {route.name === 'jobs' && <JobsPage />}
      {route.name === 'job' && <JobPage key={route.jobId} jobId={route.jobId} />}
      {route.name === 'system' && <SystemPage />}
      {route.name === 'not-found' && <NotFoundPage path={route.path} />}
    </Layout>
  )
}
