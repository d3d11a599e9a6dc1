import { createRoot } from 'react-dom/client'

import { Chat } from './Chat'

const query = new URLSearchParams(location.search)
createRoot(document.getElementById('root')!).render(
  <Chat chatId={query.get('chat') ?? 'chat'} model={query.get('model') ?? 'chat'} />,
)
