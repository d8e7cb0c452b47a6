// The rules editor: CodeMirror 6 with TOML highlighting, the service's
// compiler as the linter (debounced `rules/check` calls, each error shown
// at its line and column with its hint) and completion of the names and
// functions the compiler knows, plus the draft's own settings, fields and
// table outputs.

import { autocompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { StreamLanguage } from "@codemirror/language";
import { toml } from "@codemirror/legacy-modes/mode/toml";
import { linter, lintGutter, type Diagnostic as LintDiagnostic } from "@codemirror/lint";
import { EditorState, type Text } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import type { Diagnostic, Outline, RulesCheck, Vocabulary } from "./api";

/** What the editor asks of the page. */
export interface EditorHooks {
  /** Checks a draft (the service's compiler). */
  check(text: string): Promise<RulesCheck>;
  /** Hears every check's result, for the status line and the form preview. */
  checked(result: RulesCheck, text: string): void;
  /** Hears every edit. */
  changed(text: string): void;
  /** The vocabulary, once loaded. */
  vocabulary(): Vocabulary | null;
}

/** How long typing must pause before the draft is checked. */
const CHECK_DELAY_MS = 400;

/** A 1-based line and column as a document offset, clamped to the text. */
function offset(doc: Text, line: number, column: number): number {
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  return Math.min(l.from + Math.max(column - 1, 0), l.to);
}

/** The compiler's diagnostics as CodeMirror's. */
export function toLint(doc: Text, diagnostics: Diagnostic[]): LintDiagnostic[] {
  return diagnostics.map((d) => {
    const from = offset(doc, d.line, d.column);
    let to = offset(doc, d.end_line, d.end_column);
    if (to <= from) to = Math.min(from + 1, doc.length);
    return {
      from,
      to,
      severity: "error",
      message: d.hint ? `${d.message} (hint: ${d.hint})` : d.message,
      source: "docket",
    };
  });
}

/** Completion of `root.`, `record.field`, functions and declarations. */
function completions(hooks: EditorHooks, outline: () => Outline) {
  return (context: CompletionContext): CompletionResult | null => {
    const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_.]*/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    const vocabulary = hooks.vocabulary();
    if (!vocabulary) return null;
    const dot = word.text.lastIndexOf(".");
    if (dot < 0) {
      return {
        from: word.from,
        options: [
          ...vocabulary.roots.map((r) => ({ label: r.name, type: "variable", detail: r.ty })),
          ...vocabulary.functions.map((f) => ({ label: f.name, type: "function", info: f.doc, apply: `${f.name}(` })),
          ...vocabulary.quantifiers.map((q) => ({ label: q, type: "keyword", info: `${q}(x in list where condition)` })),
        ],
        validFor: /^[A-Za-z0-9_]*$/,
      };
    }
    const path = word.text.slice(0, dot);
    const names = membersOf(path, vocabulary, outline());
    if (!names) return null;
    return { from: word.from + dot + 1, options: names, validFor: /^[A-Za-z0-9_]*$/ };
  };
}

/** What completes after `path.`. */
function membersOf(path: string, vocabulary: Vocabulary, outline: Outline) {
  const record = (name: string) =>
    vocabulary.records.find((r) => r.name === name)?.fields.map((f) => ({ label: f.name, type: "property", detail: f.ty }));
  switch (path) {
    case "ticket":
      return record("ticket");
    case "requester":
    case "ticket.requester":
      return record("requester");
    case "event":
      return vocabulary.event.map((e) => ({ label: e, type: "property" }));
    case "event.comment":
      return record("comment");
    case "setting":
      return outline.settings.map((s) => ({ label: s, type: "constant", detail: "declared setting" }));
    case "field":
      return outline.fields.map((f) => ({ label: f, type: "property", detail: "custom field" }));
    case "row":
      return outline.tables.flatMap(([table, outputs]) =>
        outputs.map((o) => ({ label: o, type: "property", detail: `output of ${table}` })),
      );
    default:
      return null;
  }
}

/** Mounts an editor on `parent` with `text`. */
export function mountEditor(parent: HTMLElement, text: string, hooks: EditorHooks): EditorView {
  let outline: Outline = { settings: [], tables: [], fields: [] };
  const check = linter(
    async (view) => {
      const draft = view.state.doc.toString();
      try {
        const result = await hooks.check(draft);
        // Keep the last outline while the TOML does not read.
        if (result.outline.settings.length || result.outline.fields.length || result.outline.tables.length) {
          outline = result.outline;
        }
        hooks.checked(result, draft);
        // The document may have moved on meanwhile: locate against the text that was checked.
        return draft === view.state.doc.toString() ? toLint(view.state.doc, result.diagnostics) : [];
      } catch {
        return [];
      }
    },
    { delay: CHECK_DELAY_MS },
  );
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        StreamLanguage.define(toml),
        EditorView.lineWrapping,
        lintGutter(),
        check,
        autocompletion({ override: [completions(hooks, () => outline)] }),
        EditorView.contentAttributes.of({ "aria-label": "Rule document", "data-testid": "rules-editor" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) hooks.changed(update.state.doc.toString());
        }),
      ],
    }),
  });
}
