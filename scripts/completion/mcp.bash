# bash completion for the libmcp programs: mcp-client, mcp-admin, mcp-token, mcp-products,
# mcp-conformance-server. Installed as share/bash-completion/completions/<program> (one copy per
# program, so bash-completion loads it on first use), or source it from ~/.bashrc.
#
# Options are read from the program's own --help, so they cannot drift from the program;
# commands are the program's commands; options that name a file complete file names.

_mcp_words_from_help()
{
    "$1" --help 2>/dev/null | grep -oE -- '(^|[ [,(])--[a-z][a-z0-9-]*' | sed -E 's/^[ [,(]//' |
        sort -u
}

_mcp_complete()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    local prog=${COMP_WORDS[0]}
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --db|--catalog|--policy|--audit-log|--*-file|--jwt-public-key|--key|--public-key|\
        --private-key|--out|--token-cache|--tls-cert|--tls-key|--tls-ca)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return 0 ;;
        --auth)
            mapfile -t COMPREPLY < <(compgen -W "none apikey jwt introspection apikey,jwt jwt,introspection" -- "$cur")
            return 0 ;;
        --alg|--jwt-alg|--signing-alg)
            mapfile -t COMPREPLY < <(compgen -W "HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA" -- "$cur")
            return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_mcp_words_from_help "$prog")" -- "$cur")
        return 0
    fi
    # positional words: the commands of each program (skip option values)
    local words=() i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in -*) ;; *) case ${COMP_WORDS[i-1]} in --*) ;; *) words+=("$w") ;; esac ;; esac
    done
    local n=${#words[@]} list=""
    case ${prog##*/} in
        mcp-client)
            case $n in
                0) list="tools resources prompts ping conformance" ;;
                1) case ${words[0]} in
                       tools|prompts) list="list call get" ;;
                       resources) list="list read" ;;
                   esac ;;
            esac ;;
        mcp-admin)
            case $n in
                0) list="init $("$prog" --help 2>/dev/null | awk '/^commands:/ {c=1; next} c && /^  [a-z]/ {print $1}' | sort -u | tr '\n' ' ')" ;;
                1) list=$("$prog" --help 2>/dev/null | awk -v g="${words[0]}" '$1 == g {print $2}' | sort -u | tr '\n' ' ') ;;
            esac ;;
        mcp-token)
            [ "$n" = 0 ] && list="mint inspect verify keygen" ;;
    esac
    [ -n "$list" ] && mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
    return 0
}

complete -o default -F _mcp_complete mcp-client mcp-admin mcp-token mcp-products \
    mcp-conformance-server
