#!/bin/sh
# abi/layout.sh: prints the layout of every public struct of an abidw XML
# corpus, one member per line, sorted:
#
#     craft_node_options.max_pending @960 uint32_t
#
# (struct.member, offset in bits, the member's type spelled out).
# abi/check-abi.sh requires every line of the baseline's layout in the
# current build's: a versioned struct may grow at its end (abidiff is
# told to accept that), but no member it had may move or change type.
#
#   sh abi/layout.sh CORPUS.abi
set -eu
awk '
function attr(line, key,    re, s) {
    re = " " key "=\047[^\047]*\047"
    if (match(line, re) == 0) {
        return ""
    }
    s = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
    return s
}
function render(id, depth,    k, s, n) {
    if (depth > 20 || !(id in kind)) {
        return "?"
    }
    k = kind[id]
    if (k == "ptr") {
        if (kind[target[id]] == "fn") {
            return "(" render(target[id], depth + 1) ")*"
        }
        return render(target[id], depth + 1) "*"
    }
    if (k == "qual") {
        return qual[id] " " render(target[id], depth + 1)
    }
    if (k == "array") {
        return render(target[id], depth + 1) "[" asize[id] "]"
    }
    if (k == "fn") {
        s = "fn("
        n = nparams[id]
        for (j = 1; j <= n; j++) {
            s = s (j > 1 ? "," : "") render(param[id, j], depth + 1)
        }
        return s ")->" render(ret[id], depth + 1)
    }
    return name[id]
}
/<type-decl / { id = attr($0, "id"); kind[id] = "name"; name[id] = attr($0, "name") }
/<typedef-decl / { id = attr($0, "id"); kind[id] = "name"; name[id] = attr($0, "name") }
/<enum-decl / { id = attr($0, "id"); kind[id] = "name"; name[id] = "enum " attr($0, "name") }
/<union-decl / { id = attr($0, "id"); kind[id] = "name"; name[id] = "union " attr($0, "name") }
/<class-decl / {
    id = attr($0, "id"); kind[id] = "name"; name[id] = "struct " attr($0, "name")
    cls = ""
    if (attr($0, "filepath") ~ /^include\// && $0 !~ /\/>[[:space:]]*$/) {
        cls = attr($0, "name")
    }
}
/<\/class-decl>/ { cls = "" }
/<pointer-type-def / { id = attr($0, "id"); kind[id] = "ptr"; target[id] = attr($0, "type-id") }
/<qualified-type-def / {
    id = attr($0, "id"); kind[id] = "qual"; target[id] = attr($0, "type-id")
    qual[id] = attr($0, "const") == "yes" ? "const" : "volatile"
}
/<array-type-def / {
    id = attr($0, "id"); kind[id] = "array"; target[id] = attr($0, "element-type-id")
    asize[id] = attr($0, "size-in-bits")
}
/<function-type / { fid = attr($0, "id"); kind[fid] = "fn"; nparams[fid] = 0 }
fid != "" && /<parameter / { nparams[fid]++; param[fid, nparams[fid]] = attr($0, "type-id") }
fid != "" && /<return / { ret[fid] = attr($0, "type-id") }
/<\/function-type>/ { fid = "" }
cls != "" && /<data-member / { off = attr($0, "layout-offset-in-bits") }
cls != "" && /<var-decl / {
    nm++; mcls[nm] = cls; mname[nm] = attr($0, "name"); moff[nm] = off
    mtype[nm] = attr($0, "type-id")
}
END {
    for (k = 1; k <= nm; k++) {
        print mcls[k] "." mname[k] " @" moff[k] " " render(mtype[k], 0)
    }
}' "$1" | LC_ALL=C sort -u
