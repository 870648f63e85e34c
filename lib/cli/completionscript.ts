/**
 * The completion scripts `runstage completion SHELL` prints, written from the
 * program's grammar (lib/cli/completion.ts): command names and options are in
 * the script, so they complete without starting runstage; every other word is
 * asked of `runstage __complete`. bash and zsh share one POSIX function for the
 * part in the script; fish asks `__complete` for every word.
 */
/** What a script and `__complete` need of one command. */
export interface CommandGrammar {
  name: string;
  /** Every spelling of every option (`-y`, `--yes`), `--help` included. */
  options: string[];
  /** The spellings of options that take the next word as their value. */
  valueOptions: string[];
  args: { name: string; variadic: boolean }[];
}

export interface ProgramGrammar {
  name: string;
  commands: CommandGrammar[];
  /** The program's own options (`-C`, `--runs`, ...), usable before the command. */
  global: CommandGrammar;
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, grammar: ProgramGrammar): string {
  const name = safeWord(grammar.name) ?? "runstage";
  const fn = `_${name.replace(/-/g, "_")}`;
  if (shell === "fish") return fishScript(name, fn);
  const shared = staticPart(fn, grammar);
  return shell === "bash" ? bashScript(name, fn, shared) : zshScript(name, fn, shared);
}

/** Words the script may hold unquoted: every option and command runstage has. */
function safeWord(word: string): string | undefined {
  return /^[\w.-]+$/.test(word) ? word : undefined;
}

function words(list: string[]): string {
  return list.map(safeWord).filter((w) => w !== undefined).join(" ");
}

/**
 * `FN_static WORD...` prints the candidates for the last WORD when it is a
 * command name or an option, and fails otherwise (the words say `__complete`
 * must be asked). Plain POSIX shell, so bash and zsh both run it.
 */
function staticPart(fn: string, grammar: ProgramGrammar): string {
  const cases = (pick: (c: CommandGrammar) => string[]) =>
    grammar.commands
      .filter((c) => safeWord(c.name) !== undefined)
      .map((c) => `    ${c.name}) echo '${words(pick(c))}' ;;`)
      .join("\n");
  return `${fn}_options() {
  case $1 in
${cases((c) => c.options)}
  esac
}

${fn}_value_options() {
  case $1 in
${cases((c) => c.valueOptions)}
  esac
}

${fn}_starting() {
  local cur w
  cur=$1
  shift
  for w in "$@"; do
    case $w in "$cur"*) printf '%s\\n' "$w" ;; esac
  done
}

${fn}_static() {
  local cmd expect w IFS
  IFS=' '
  cmd=
  expect=
  while [ $# -gt 1 ]; do
    w=$1
    shift
    if [ -n "$expect" ]; then expect=; continue; fi
    if [ -z "$cmd" ]; then
      case " ${words(grammar.global.valueOptions)} " in *" $w "*) expect=1; continue ;; esac
      case $w in -*) continue ;; esac
      cmd=$w
    else
      case $w in --) return 1 ;; esac
      case " $(${fn}_value_options "$cmd") " in *" $w "*) expect=1 ;; esac
    fi
  done
  [ -n "$expect" ] && return 1
  if [ -z "$cmd" ]; then
    case $1 in
      -*) ${fn}_starting "$1" ${words(grammar.global.options)} ;;
      *) ${fn}_starting "$1" ${words(grammar.commands.map((c) => c.name))} ;;
    esac
    return 0
  fi
  case $1 in -*) ${fn}_starting "$1" $(${fn}_options "$cmd"); return 0 ;; esac
  return 1
}
`;
}

function bashScript(name: string, fn: string, shared: string): string {
  return `# ${name} completion for bash: eval "$(${name} completion bash)" in ~/.bashrc
${shared}
${fn}() {
  local IFS=$'\\n'
  local -a words=("\${COMP_WORDS[@]:1:COMP_CWORD}")
  # COMP_WORDS are as typed: --quoted has runstage take their quotes off.
  COMPREPLY=($(${fn}_static "\${words[@]}" ||
    ${name} __complete --quoted -- "\${words[@]}" 2>/dev/null))
  case \${COMPREPLY[0]-} in *=) compopt -o nospace 2>/dev/null ;; esac
}

complete -o default -F ${fn} ${name}
`;
}

function zshScript(name: string, fn: string, shared: string): string {
  return `#compdef ${name}
# ${name} completion for zsh: eval "$(${name} completion zsh)" in ~/.zshrc
${shared}
${fn}() {
  local IFS=$'\\n'
  local -a line candidates flags others
  # The words as runstage will get them: (Q) takes off their quotes; PREFIX is
  # the word being completed up to the cursor, out of any quote begun.
  line=("\${(@Q)words[2,CURRENT-1]}" "$PREFIX")
  candidates=($(${fn}_static "\${line[@]}" || ${name} __complete -- "\${line[@]}" 2>/dev/null))
  if (( \${#candidates} == 0 )); then
    _files
    return
  fi
  flags=(\${(M)candidates:#*=})
  others=(\${candidates:#*=})
  (( \${#flags} )) && compadd -S '' -- "\${flags[@]}"
  (( \${#others} )) && compadd -- "\${others[@]}"
  return 0
}

if [[ \${zsh_eval_context[-1]-} == loadautofunc ]]; then
  # Autoloaded from $fpath (a file ${fn}): this first call completes too.
  ${fn} "$@"
else
  if (( ! \${+functions[compdef]} )); then
    autoload -Uz compinit && compinit
  fi
  compdef ${fn} ${name}
fi
`;
}

function fishScript(name: string, fn: string): string {
  return `# ${name} completion for fish: ${name} completion fish | source
function ${fn}
    set -l words (commandline -opc)
    set -l current (commandline -ct | string unescape)
    set -l candidates (${name} __complete -- $words[2..-1] "$current" 2>/dev/null)
    if set -q candidates[1]
        printf '%s\\n' $candidates
    else
        # Nothing from runstage (an option's value, a path): file names, as bash and zsh offer.
        __fish_complete_path "$current"
    end
end

complete -c ${name} -f -a '(${fn})'
`;
}
