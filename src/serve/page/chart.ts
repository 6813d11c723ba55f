/**
 * The ten probabilities as a bar chart of plain HTML: one list item per digit, labelled for
 * screen readers, the most likely digit highlighted. Columns on wide screens, rows on phones
 * (style.css), where ten columns leave no room for the percentages.
 */

export function createChart(list: HTMLOListElement, classNames: string[]): void {
  list.replaceChildren(
    ...classNames.map((name) => {
      const item = document.createElement('li');
      item.innerHTML =
        '<span class="pct">0%</span><span class="track"><span class="bar"></span></span><span class="label"></span>';
      item.querySelector('.label')!.textContent = name;
      item.dataset.digit = name;
      item.dataset.probability = '0';
      item.setAttribute('aria-label', `${name}: 0%`);
      return item;
    }),
  );
}

export function formatPercent(p: number): string {
  const percent = p * 100;
  return `${percent >= 99.95 || percent < 0.05 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

/**
 * No probabilities (cleared, or blank): all bars empty. `highlight`: mark the most likely digit
 * (not when the picture is no digit at all: its "best" digit may stand at 0%).
 */
export function updateChart(list: HTMLOListElement, probabilities: number[] | null, highlight = true): void {
  const items = Array.from(list.children) as HTMLLIElement[];
  const best = probabilities && highlight ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  items.forEach((item, k) => {
    const p = probabilities?.[k] ?? 0;
    const text = formatPercent(p);
    // The stylesheet turns --p into a bar's height (columns) or width (rows, on phones).
    item.style.setProperty('--p', p.toFixed(4));
    item.querySelector('.pct')!.textContent = text;
    item.setAttribute('aria-label', `${item.dataset.digit}: ${text}`);
    item.dataset.probability = String(p);
    item.classList.toggle('best', k === best);
  });
}
