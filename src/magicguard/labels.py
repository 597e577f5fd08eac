"""Short, stable labels over libmagic's MIME types.

libmagic's descriptions change wording between releases, and a few of its
MIME types have aliases (``image/bmp`` / ``image/x-ms-bmp``,
``application/gzip`` / ``application/x-gzip``).  Code that decides what may
be uploaded should not depend on either, so magicguard keeps this table: a
MIME type maps to one short label (``png``, ``pdf``, ``docx``, ``elf``,
``python``, ...), and a label to the file-name extensions that fit it and the
family it belongs to.  The table is ours; changing a label is an API change.

>>> label_for("image/x-ms-bmp")
'bmp'
>>> "jpg" in extensions_for("jpeg")
True
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "ARCHIVES",
    "EXECUTABLES",
    "EXTENSIONS",
    "LABELS",
    "SCRIPTS",
    "ZIP_FAMILY",
    "extensions_for",
    "label_for",
    "labels_for_extension",
    "normalize_mime",
]

#: MIME type (as libmagic reports it, or a common alias) -> label.
LABELS: dict[str, str] = {
    # images
    "image/png": "png",
    "image/apng": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/x-ms-bmp": "bmp",
    "image/x-bmp": "bmp",
    "image/webp": "webp",
    "image/tiff": "tiff",
    "image/svg+xml": "svg",
    "image/vnd.microsoft.icon": "ico",
    "image/x-icon": "ico",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/avif": "avif",
    "image/x-portable-pixmap": "ppm",
    "image/x-portable-greymap": "pgm",
    "image/x-portable-bitmap": "pbm",
    # documents
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/postscript": "postscript",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.ms-office": "msoffice",
    "application/x-ole-storage": "msoffice",
    "application/CDFV2": "msoffice",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/epub+zip": "epub",
    # archives and compression
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-zip": "zip",
    "application/java-archive": "jar",
    "application/x-java-archive": "jar",
    "application/vnd.android.package-archive": "apk",
    "application/x-tar": "tar",
    "application/x-ustar": "tar",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/zstd": "zstd",
    "application/x-zstd": "zstd",
    "application/x-7z-compressed": "7z",
    "application/x-rar": "rar",
    "application/vnd.rar": "rar",
    "application/x-rar-compressed": "rar",
    "application/x-iso9660-image": "iso",
    # executables
    "application/x-executable": "elf",
    "application/x-pie-executable": "elf",
    "application/x-sharedlib": "elf",
    "application/x-object": "elf",
    "application/x-coredump": "elf",
    "application/x-dosexec": "exe",
    "application/vnd.microsoft.portable-executable": "exe",
    "application/x-msdownload": "exe",
    "application/x-mach-binary": "macho",
    "application/x-msi": "msi",
    "application/x-java-applet": "javaclass",
    "application/wasm": "wasm",
    # scripts and code
    "text/x-python": "python",
    "text/x-script.python": "python",
    "application/x-python-code": "pyc",
    # what libmagic says for byte-compiled Python (5.46 and 5.47; 5.47 adds 3.14+)
    "application/x-bytecode.python": "pyc",
    "text/x-shellscript": "shell",
    "application/x-sh": "shell",
    "text/x-sh": "shell",
    "text/x-php": "php",
    "application/x-php": "php",
    "application/x-httpd-php": "php",
    "application/x-httpd-php-source": "php",
    "application/php": "php",
    "text/x-perl": "perl",
    "text/x-ruby": "ruby",
    "application/javascript": "javascript",
    "text/javascript": "javascript",
    "text/x-msdos-batch": "batch",
    "text/x-lua": "lua",  # new in libmagic 5.47 (#! lua scripts)
    "text/x-tcl": "tcl",
    "text/x-c": "c",
    "text/x-c++": "cpp",
    "text/x-java": "java",
    # text and data
    "text/plain": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/xml": "xml",
    "application/xml": "xml",
    "application/json": "json",
    "text/csv": "csv",
    "text/markdown": "markdown",
    "text/x-tex": "tex",
    # libmagic 5.47 names INI files (a "[section]" line first) with this type;
    # 5.46 said text/plain.
    "application/x-wine-extension-ini": "ini",
    "application/x-sqlite3": "sqlite",
    "application/vnd.sqlite3": "sqlite",
    # audio and video
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/quicktime": "mov",
    "video/x-msvideo": "avi",
    # fonts
    "font/woff": "woff",
    "font/woff2": "woff2",
    "font/sfnt": "ttf",
    "font/ttf": "ttf",
    "font/otf": "otf",
    # nothing known
    "application/x-empty": "empty",
    "inode/x-empty": "empty",
    "application/octet-stream": "binary",
}

#: Label -> the file-name extensions (lower case, no dot) that fit it.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "png": ("png", "apng"),
    "jpeg": ("jpg", "jpeg", "jpe", "jfif", "pjpeg", "pjp"),
    "gif": ("gif",),
    "bmp": ("bmp", "dib"),
    "webp": ("webp",),
    "tiff": ("tif", "tiff"),
    "svg": ("svg", "svgz"),
    "ico": ("ico", "cur"),
    "heic": ("heic",),
    "heif": ("heif",),
    "avif": ("avif",),
    "ppm": ("ppm", "pnm"),
    "pgm": ("pgm", "pnm"),
    "pbm": ("pbm", "pnm"),
    "pdf": ("pdf",),
    "postscript": ("ps", "eps", "ai"),
    "rtf": ("rtf",),
    "doc": ("doc", "dot"),
    "xls": ("xls", "xlt"),
    "ppt": ("ppt", "pps", "pot"),
    "msoffice": ("doc", "dot", "xls", "xlt", "ppt", "pps", "msg", "msi"),
    "docx": ("docx", "docm", "dotx"),
    "xlsx": ("xlsx", "xlsm", "xltx"),
    "pptx": ("pptx", "pptm", "ppsx"),
    "odt": ("odt",),
    "ods": ("ods",),
    "odp": ("odp",),
    "epub": ("epub",),
    "zip": ("zip", "zipx"),
    "jar": ("jar", "war", "ear"),
    "apk": ("apk",),
    "tar": ("tar",),
    "gzip": ("gz", "tgz", "gzip"),
    "bzip2": ("bz2", "tbz", "tbz2"),
    "xz": ("xz", "txz"),
    "zstd": ("zst",),
    "7z": ("7z",),
    "rar": ("rar",),
    "iso": ("iso",),
    "elf": ("", "so", "o", "elf", "bin", "out"),
    "exe": ("exe", "dll", "sys", "scr", "com", "efi"),
    "macho": ("", "dylib", "bundle"),
    "msi": ("msi",),
    "javaclass": ("class",),
    "wasm": ("wasm",),
    "python": ("py", "pyw", "pyi"),
    "pyc": ("pyc", "pyo"),
    "shell": ("sh", "bash", "zsh", "ksh", ""),
    "php": ("php", "phtml", "php3", "php4", "php5", "phps", "inc"),
    "perl": ("pl", "pm", "t"),
    "ruby": ("rb",),
    "javascript": ("js", "mjs", "cjs"),
    "batch": ("bat", "cmd"),
    "lua": ("lua", ""),
    "tcl": ("tcl", "tk", ""),
    "c": ("c", "h"),
    "cpp": ("cpp", "cc", "cxx", "hpp", "hh", "h"),
    "java": ("java",),
    "text": ("txt", "text", "log", "md", "rst", "ini", "cfg", "conf", "csv", "tsv", "json",
             "yaml", "yml", "toml", "xml", "html", "htm", "css", "js", "py", "sh", "srt", "vtt",
             "tex", "bib", "sql", "diff", "patch", "asc", "pem", ""),
    "html": ("html", "htm", "xhtml", "shtml"),
    "xml": ("xml", "xsd", "xsl", "xslt", "rss", "atom", "svg", "plist", "kml", "gpx"),
    "json": ("json", "geojson", "jsonld", "webmanifest", "map"),
    "csv": ("csv", "tsv", "txt"),
    "markdown": ("md", "markdown"),
    "ini": ("ini", "cfg", "conf", "inf", "toml", "desktop", "service", "mod"),
    "tex": ("tex", "sty", "cls"),
    "sqlite": ("sqlite", "sqlite3", "db", "db3"),
    "wav": ("wav", "wave"),
    "mp3": ("mp3",),
    "ogg": ("ogg", "oga", "ogv", "opus"),
    "flac": ("flac",),
    "mp4": ("mp4", "m4a", "m4v"),
    "webm": ("webm",),
    "mkv": ("mkv", "mka"),
    "mov": ("mov", "qt"),
    "avi": ("avi",),
    "woff": ("woff",),
    "woff2": ("woff2",),
    "ttf": ("ttf",),
    "otf": ("otf",),
    "empty": (),
    "binary": (),
}

#: Labels of containers whose members are files in their own right: signatures
#: found inside them are members, not a second format.
ARCHIVES = frozenset({"zip", "jar", "apk", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub",
                      "tar", "7z", "rar", "iso", "gzip", "bzip2", "xz", "zstd"})

#: Labels built on ZIP: a ZIP signature in them is their own.
ZIP_FAMILY = frozenset({"zip", "jar", "apk", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"})

#: Labels of native executable code.
EXECUTABLES = frozenset({"elf", "exe", "macho", "msi", "javaclass", "wasm", "pyc"})

#: Labels of programs in a scripting language.
SCRIPTS = frozenset({"python", "shell", "php", "perl", "ruby", "javascript", "batch", "lua",
                     "tcl"})

#: Aliases of MIME types that the table does not name but that mean one of its types.
_ALIASES: dict[str, str] = {}

_BY_EXTENSION: dict[str, tuple[str, ...]] = {}
for _label, _exts in EXTENSIONS.items():
    for _ext in _exts:
        _BY_EXTENSION[_ext] = (*_BY_EXTENSION.get(_ext, ()), _label)


def normalize_mime(mime: str) -> str:
    """``mime`` without parameters, surrounding space or case: ``"Image/PNG; q=1"`` -> ``"image/png"``.

    ``application/CDFV2`` keeps its case (libmagic spells it so).
    """
    base = mime.split(";", 1)[0].strip()
    if base == "application/CDFV2":
        return base
    return base.lower()


def label_for(mime: Optional[str]) -> str:
    """The label of a MIME type; ``"unknown"`` for a type not in the table.

    A type not in the table falls back on its family: ``text/*`` -> ``text``,
    anything else -> ``unknown``.
    """
    if not mime:
        return "unknown"
    base = normalize_mime(mime)
    label = LABELS.get(base)
    if label is not None:
        return label
    if base.startswith("application/cdfv2"):
        return "msoffice"
    if base.startswith("text/"):
        return "text"
    return "unknown"


def extensions_for(label: str) -> tuple[str, ...]:
    """The extensions (lower case, no dot) that fit ``label``; ``()`` when none is known."""
    return EXTENSIONS.get(label, ())


def labels_for_extension(extension: str) -> tuple[str, ...]:
    """The labels an extension (with or without its dot, any case) stands for; ``()`` if unknown."""
    return _BY_EXTENSION.get(extension.lower().lstrip("."), ())
