"""Where `cnnlab fetch` would get each dataset on this machine, without fetching it: what `cnnlab
plan` shows and what `datasets: auto` goes by."""

import functools
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from cnnlab.data.catalog import DATASETS, MIRROR_VARIABLE, DatasetInfo, dataset_dir, mirror_folder

CONNECT_TIMEOUT = 3.0  # seconds for one TCP connection to a download host


def data_sources(params: dict, names: list[str]) -> list[tuple[str, str, bool]]:
    """(dataset, where `cnnlab fetch` would get it, whether it can be had), in fetch's order."""
    return [(name, *source(params, name)) for name in names]


@functools.cache
def _source(root: str, mirror: Path | None, name: str) -> tuple[str, bool]:
    info = DATASETS[name]
    places = [("already in", dataset_dir(name, root))]
    if mirror:
        places += [("offline mirror", mirror / sub) for sub in info.mirror_subfolders]
    if info.package:
        places.append(("Debian package", info.package.folder))
    found = next((f"{label} {folder}" for label, folder in places if has_copy(info, folder)), None)
    if found:
        return found, True
    url = download_url(info)
    if reachable(url):
        return f"the internet ({url})", True
    tried = [f"no copy in {', '.join(str(folder) for _, folder in places)}",
             f"no internet ({urlparse(url).hostname} not reachable)"]
    if not mirror:
        tried.insert(1, f"no offline mirror set (${MIRROR_VARIABLE} or data.mirror)")
    if info.package:
        tried.insert(1, f"apt-get install {info.package.name} would provide it")
    return "cannot be had: " + "; ".join(tried), False


def source(params: dict, name: str) -> tuple[str, bool]:
    """Where `cnnlab fetch` would get dataset `name` (its folder in place, the offline mirror, the
    Debian package, the internet), and whether it can be had at all. Asked once a process: the
    internet is tried only for a dataset with no copy here, and takes up to CONNECT_TIMEOUT."""
    return _source(str(params["data"]["root"]), mirror_folder(params), name)


def has_copy(info: DatasetInfo, folder: Path) -> bool:
    """`folder` holds the dataset's files as `cnnlab fetch` reads them (digests are checked then):
    unpacked (raw, .gz or .xz), or the declared archive."""
    for candidate in (folder, folder / info.folder, folder / info.subdir):
        if all(any((candidate / (file + suffix)).is_file() for suffix in ("", ".gz", ".xz"))
               for file in info.digests):
            return True
    return info.archive is not None and (folder / info.archive.name).is_file()


def download_url(info: DatasetInfo) -> str:
    import torchvision.datasets

    downloader = getattr(torchvision.datasets, info.download)
    return downloader.mirrors[0] if hasattr(downloader, "mirrors") else downloader.url


def reachable(url: str) -> bool:
    """A TCP connection to the host torchvision downloads from opens within CONNECT_TIMEOUT.

    Only the host itself can say whether the download would work (a network route or a DNS answer
    does not: firewalls and proxies); name lookups have no timeout of their own, hence the thread.
    """
    address = urlparse(url)
    port = address.port or (443 if address.scheme == "https" else 80)
    result = []

    def connect():
        try:
            socket.create_connection((address.hostname, port), timeout=CONNECT_TIMEOUT).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT)
    return bool(result)
