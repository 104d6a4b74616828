# bash completion for dge. Load it with:
#   source <(dge completion bash)
# or save it as /etc/bash_completion.d/dge.
_dge() {
    local words=("${COMP_WORDS[@]:1:COMP_CWORD}")
    mapfile -t COMPREPLY < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
}
complete -o default -F _dge dge
