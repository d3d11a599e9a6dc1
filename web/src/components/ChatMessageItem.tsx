import { memo } from 'react'
import type { ChatMessage } from '../lib/chatMessages.ts'
import Link from './Link.tsx'
import Markdown from './Markdown.tsx'
import { jobPath } from '../lib/router.ts'

const STATE_TEXT: Record<string, string> = {
  pending: 'Waiting for the model…',
  streaming: 'Writing…',
  stopped: 'Stopped',
}

/** One message; an answer shows its state, and its job for those who want to look closer. */
function ChatMessageItem({ message }: { message: ChatMessage }) {
  const answer = message.answer
  const state = answer?.state
  return (
    <li
      className={`message message-${message.role}`}
      data-testid={message.role === 'user' ? 'user-message' : 'assistant-message'}
      data-state={state}
      data-job-id={answer?.jobId ?? undefined}
      data-seq={answer?.lastSeq}
    >
      <div className="message-role">{message.role === 'user' ? 'You' : 'Assistant'}</div>
      <div
        className={state === 'streaming' ? 'message-body streaming' : 'message-body'}
        data-testid="message-text"
      >
        {message.role === 'user' ? (
          <p className="plain-text">{message.content}</p>
        ) : (
          <Markdown source={message.content} streaming={state === 'streaming'} />
        )}
      </div>
      {state && STATE_TEXT[state] && <p className="message-state muted">{STATE_TEXT[state]}</p>}
      {(state === 'failed' || state === 'lost') && (
        <p className="message-state error" role="alert" data-testid="answer-error">
          {answer?.error ?? 'The answer failed.'}
        </p>
      )}
      {answer?.jobId && state !== 'pending' && state !== 'streaming' && (
        <p className="message-meta muted">
          <Link href={jobPath(answer.jobId)}>Job details</Link>
        </p>
      )}
    </li>
  )
}

export default memo(ChatMessageItem)
