import HomePage from './pages/HomePage.tsx'

// One page for now; routing arrives with the job views.
export default function App() {
  return <HomePage />
}
