import type { AnchorHTMLAttributes, MouseEvent } from 'react'
import { navigate } from '../hooks/useRoute.ts'

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }

/** An ordinary link that the client-side router follows without a page load. */
export default function Link({ href, onClick, ...props }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event)
    const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey
    if (event.defaultPrevented || event.button !== 0 || modified || props.target) return
    event.preventDefault()
    navigate(href)
  }
  return <a href={href} onClick={follow} {...props} />
}
