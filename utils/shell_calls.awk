# What a piece of bash calls, for utils/stage.sh's fingerprints.  Reads shell text (the output of
# `declare -f`, or a command line quoted with printf %q) and prints, one a line:
#
#   C <name>          a word in command position: the start of a simple command (after ; & | && ||
#                     newline ( { ! and the keywords if then else elif do while until time, past any
#                     VAR=value prefixes), also inside $(...), <(...), >(...) and `...`
#   A <cmd> <name>    a whole word <name> given as an argument to the command <cmd> (so that a
#                     function handed by name to another, `parallel_each 2 "$x" train_one`, can count)
#   S <path>          a script path (local/..., utils/...) named anywhere in the text
#
# With -v paths_only=1 it prints the S lines only (of any text: a Python script too).
#
# A name inside a longer word never counts: "${out}/log/mix.JOB.log" calls no `log`, nor does the
# pattern of a case arm, a `for` list, the inside of [[ ]] or (( )), a redirection's file or the body
# of a here-document.  Quoting follows bash: nothing inside '...' is a command; inside "..." only
# $(...) and `...` are; ${...} may hold either.

function push(kind) {
  top++
  ctx[top] = kind
  cmdpos[top] = (kind == "U"); word[top] = ""; complex[top] = 0; has[top] = 0
  cmd[top] = ""; mode[top] = ""; parens[top] = 0; redir[top] = 0; braces[top] = 0
}

# The word of the innermost command context that encloses context `d` (quotes and ${} belong to it).
function owner(d) {
  while (d > 0 && ctx[d] != "U" && ctx[d] != "T") d--
  return d
}

function ident(w) { return w ~ /^[A-Za-z_][A-Za-z0-9_.:-]*$/ }

# A finished word of command context d.
function flush(d,    w, plain, whole) {
  if (!has[d]) return
  w = word[d]; plain = !complex[d]; whole = plain && ident(w)
  word[d] = ""; complex[d] = 0; has[d] = 0
  if (redir[d]) { redir[d] = 0; return }
  if (mode[d] == "pattern" || mode[d] == "forlist" || mode[d] == "test" || mode[d] == "array") {
    if (mode[d] == "pattern" && w == "esac" && plain) { mode[d] = ""; cmdpos[d] = 0 }
    if (mode[d] == "test" && w == "]]") { mode[d] = ""; cmdpos[d] = 0 }
    return
  }
  if (mode[d] == "casewd") { if (w == "in") mode[d] = "pattern"; return }
  if (mode[d] == "forvar") { mode[d] = (w == "in") ? "forlist" : "forvar"; return }
  if (cmdpos[d]) {
    if (w ~ /^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=/) return        # VAR=value before a command
    if (plain && (w in keep)) return                                   # if, then, do, {, ! ...
    if (w == "case") { mode[d] = "casewd"; cmdpos[d] = 0; return }
    if (w == "for" || w == "select") { mode[d] = "forvar"; cmdpos[d] = 0; return }
    if (w == "[[") { mode[d] = "test"; cmdpos[d] = 0; return }
    cmdpos[d] = 0
    cmd[d] = whole ? w : ""
    if (whole && !(w in ends)) print "C " w
    return
  }
  if (whole && cmd[d] != "") print "A " cmd[d] " " w
}

# The end of a simple command (; & | newline ...): the next word starts a command.
function separate(d) {
  flush(d)
  if (mode[d] == "forlist") mode[d] = ""
  cmdpos[d] = 1; cmd[d] = ""; redir[d] = 0
}

function addchar(d, c,    o) {
  o = owner(d)
  word[o] = word[o] c; has[o] = 1
}

function mark_complex(d,    o) { o = owner(d); complex[o] = 1; has[o] = 1 }

BEGIN {
  split("if then else elif do while until time ! { ( function", kw, " ")
  for (i in kw) keep[kw[i]] = 1
  split("} fi done esac", kw, " ")
  for (i in kw) ends[kw[i]] = 1
}

{ text = text $0 "\n" }

END {
  # Script paths, anywhere.
  rest = text
  while (match(rest, /(^|[^A-Za-z0-9_.\/-])(\.\/)?(local|utils)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_]\.(sh|py|pl|awk)/)) {
    p = substr(rest, RSTART, RLENGTH)
    if (p !~ /^(\.\/)?(local|utils)\//) p = substr(p, 2)     # the character before the path
    sub(/^\.\//, "", p)
    if (!(p in seen_path)) { seen_path[p] = 1; print "S " p }
    rest = substr(rest, RSTART + RLENGTH)
  }
  if (paths_only) exit

  top = 0; push("U")
  n = length(text); i = 1; heredoc = ""
  while (i <= n) {
    c = substr(text, i, 1); c2 = substr(text, i, 2); t = ctx[top]
    if (t == "S") {                                   # '...': nothing is special
      if (c == "'") top--; else addchar(top, c)
      i++; continue
    }
    if (c == "\\") {                                  # an escaped character is literal
      if (t != "A") addchar(top, substr(text, i + 1, 1))
      i += 2; continue
    }
    if (t == "A") {                                   # (( )) / $(( )): skip to the matching ))
      if (c == "(") parens[top]++
      else if (c == ")") { if (parens[top] > 0) parens[top]--; else { top--; i++; if (substr(text, i, 1) == ")") i++; continue } }
      i++; continue
    }
    if (c2 == "$(" ) {
      if (substr(text, i, 3) == "$((") { mark_complex(top); push("A"); i += 3; continue }
      mark_complex(top); push("U"); i += 2; continue
    }
    if (c2 == "${") { mark_complex(top); push("B"); i += 2; continue }
    if (c == "`") {
      if (t == "T") { flush(top); top--; i++; continue }
      mark_complex(top); push("T"); cmdpos[top] = 1; ctx[top] = "T"; i++; continue
    }
    if (t == "D") {                                   # "...": only $( and ` above are special
      if (c == "\"") top--
      else if (c == "$") mark_complex(top)
      else addchar(top, c)
      i++; continue
    }
    if (t == "B") {                                   # ${...}
      if (c == "{") braces[top]++
      else if (c == "}") { if (braces[top] > 0) braces[top]--; else top-- }
      else if (c == "\"") push("D")
      else if (c == "'") push("S")
      i++; continue
    }
    # A command context: U (top level, $( ), <( ), >( )) or T (`...`).
    if (c == "'") { addchar(top, ""); push("S"); i++; continue }
    if (c2 == "$'") { addchar(top, ""); push("S"); i += 2; continue }
    if (c == "\"") { addchar(top, ""); push("D"); i++; continue }
    if (c == "$") { mark_complex(top); addchar(top, c); i++; continue }
    if (c == " " || c == "\t") { flush(top); i++; continue }
    if (c == "\n") {
      separate(top)
      i++
      if (heredoc != "") {                            # skip the here-document's lines
        while (i <= n) {
          e = index(substr(text, i), "\n"); if (e == 0) e = n - i + 2
          line = substr(text, i, e - 1); i += e
          if (strip) sub(/^\t+/, "", line)
          if (line == heredoc) break
        }
        heredoc = ""
      }
      continue
    }
    if (mode[top] == "test") {                        # [[ ... ]]: operators are the test's
      if (c2 == "]]" && !has[top]) { mode[top] = ""; cmdpos[top] = 0; i += 2; continue }
      if (c == "(" || c == ")" || c == "<" || c == ">" || c == "&" || c == "|") { flush(top); i++; continue }
      addchar(top, c); i++; continue
    }
    if (c2 == "<(" || c2 == ">(") { flush(top); push("U"); i += 2; continue }
    if (c2 == "<<" && substr(text, i, 3) != "<<<") {   # here-document: remember its delimiter
      flush(top); i += 2; strip = 0
      if (substr(text, i, 1) == "-") { strip = 1; i++ }
      while (substr(text, i, 1) == " ") i++
      d = ""
      while (i <= n && substr(text, i, 1) !~ /[ \t\n;|&<>()]/) { d = d substr(text, i, 1); i++ }
      gsub(/["']/, "", d); heredoc = d
      continue
    }
    if (c == "<" || c == ">") {
      flush(top)
      while (substr(text, i, 1) ~ /[<>&]/) i++
      if (substr(text, i, 1) ~ /[0-9-]/ && substr(text, i - 1, 1) == "&") { while (substr(text, i, 1) ~ /[0-9-]/) i++; continue }
      redir[top] = 1; continue
    }
    if (c == ";" || c == "&" || c == "|") {
      flush(top)
      if (c2 == ";;" || c2 == ";&") {
        mode[top] = "pattern"; i += 2; if (substr(text, i, 1) == "&") i++; continue
      }
      if (mode[top] == "pattern") { i++; continue }          # a | b) alternatives
      separate(top); i += (c2 == "&&" || c2 == "||" || c2 == ";;") ? 2 : 1; continue
    }
    if (c == "(") {
      if (has[top] && !complex[top] && word[top] ~ /^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=$/) {
        flush(top); push("U"); mode[top] = "array"; cmdpos[top] = 0; i++; continue   # x=(a b c)
      }
      flush(top)
      if (c2 == "((" && (cmdpos[top] || mode[top] == "forvar")) { mode[top] = ""; push("A"); i += 2; continue }
      if (mode[top] == "pattern") { i++; continue }
      parens[top]++; separate(top); i++; continue
    }
    if (c == ")") {
      flush(top)
      if (mode[top] == "pattern") { mode[top] = ""; separate(top); i++; continue }
      if (parens[top] > 0) { parens[top]--; cmdpos[top] = 0; i++; continue }
      if (top > 1) top--                              # the end of $( <( >(
      i++; continue
    }
    addchar(top, c); i++
  }
  while (top > 0) { if (ctx[top] == "U" || ctx[top] == "T") flush(top); top-- }
}
