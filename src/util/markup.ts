/** Text made safe to put inside HTML, SVG or XML, in element content or a quoted attribute. */
export function escapeMarkup(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
