import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import './index.css'
import './app.css'
import './chat.css'
import './system.css'
import App from './App.tsx'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)

// Answers' Markdown renderer is a chunk of its own (components/Markdown.tsx): fetch it now,
// beside the first render, rather than when the first answer needs it.
void import('./components/MarkdownRenderer.tsx')
