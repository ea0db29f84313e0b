import errno


class CnnlabError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits 2."""


# File-system trouble a user can cause (or fix), and what to do about it.
OS_ERROR_ADVICE = {
    errno.EACCES: "give yourself write access to it or choose another folder (--out, --results)",
    errno.EPERM: "give yourself write access to it or choose another folder (--out, --results)",
    errno.EROFS: "choose a folder on a writable disk (--out, --results)",
    errno.ENOSPC: "free some disk space (or choose a folder on another disk), then run this again",
    errno.EDQUOT: "free some of your disk quota (or choose a folder on another disk), then run this again",
    errno.EFBIG: "the file grew past the allowed size; raise the limit or choose another disk",
    errno.ENAMETOOLONG: "use a shorter folder or experiment name",
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose another path (--out, --results)",
    errno.EISDIR: "a folder stands where a file should be; move it away or choose another path",
    errno.EEXIST: "a file stands where a folder should be; move it away or choose another path",
}


def describe_os_error(err: OSError) -> str | None:
    """`<path>: <reason>; <what to do>` for the file-system trouble above, else None (a bug: keep
    its traceback)."""
    advice = OS_ERROR_ADVICE.get(err.errno)
    if advice is None:
        return None
    where = f"{err.filename}: " if err.filename is not None else ""
    return f"{where}{err.strerror}; {advice}"
