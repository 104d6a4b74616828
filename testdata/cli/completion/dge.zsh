#compdef dge
# zsh completion for dge. Load it with:
#   source <(dge completion zsh)
# or save it as _dge in a folder of $fpath.
_dge() {
    local -a candidates
    candidates=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if (( ${#candidates} )); then
        compadd -Q -- $candidates
    else
        _files
    fi
}
if [[ $funcstack[1] = _dge ]]; then
    _dge "$@"
else
    compdef _dge dge
fi
