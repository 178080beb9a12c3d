"""A PEP 517 / PEP 660 build backend for the mdbp package, standard library
only, so that `pip install ./python` works offline (pip has nothing to
download: the backend is in the tree, `requires` is empty).

It builds a pure-Python wheel from the package directory named in
pyproject.toml's [project] table (mdbp/), an sdist of the tree, and an
editable wheel (a .pth file naming this directory). Python >= 3.11 (tomllib);
pyproject.toml is the single source of the metadata."""
import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL_TAG = "py3-none-any"
# Fixed timestamps: the same tree always builds the same archive bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
SDIST_MEMBERS = ("pyproject.toml", "README.md", "build_backend", "mdbp")


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)["project"]


def _names(project):
    name = project["name"]
    return name, project["version"], name.replace("-", "_")


def _metadata(project):
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"],
             "Version: " + project["version"],
             "Summary: " + project.get("description", "")]
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    if "license" in project and "text" in project["license"]:
        lines.append("License: " + project["license"]["text"])
    for requirement in project.get("dependencies", []):
        lines.append("Requires-Dist: " + requirement)
    text = "\n".join(lines) + "\n"
    readme = os.path.join(HERE, project.get("readme", "README.md"))
    if os.path.exists(readme):
        text += "Description-Content-Type: text/markdown\n\n"
        with open(readme, encoding="utf-8") as handle:
            text += handle.read()
    return text


def _entry_points(project):
    scripts = project.get("scripts", {})
    if not scripts:
        return None
    return "[console_scripts]\n" + "".join(
        "%s = %s\n" % item for item in sorted(scripts.items()))


def _dist_info_files(project):
    name, version, module = _names(project)
    files = {"METADATA": _metadata(project),
             "WHEEL": "Wheel-Version: 1.0\nGenerator: mdbp_build\n"
                      "Root-Is-Purelib: true\nTag: %s\n" % WHEEL_TAG,
             "top_level.txt": module + "\n"}
    entry_points = _entry_points(project)
    if entry_points:
        files["entry_points.txt"] = entry_points
    return files


def _package_files(module):
    root = os.path.join(HERE, module)
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                yield os.path.relpath(path, HERE).replace(os.sep, "/"), path


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_wheel(wheel_directory, entries, project):
    """entries: (archive name, bytes). Adds the dist-info and RECORD."""
    name, version, module = _names(project)
    dist_info = "%s-%s.dist-info" % (module, version)
    entries = list(entries) + [
        ("%s/%s" % (dist_info, key), value.encode("utf-8"))
        for key, value in sorted(_dist_info_files(project).items())]
    record_name = dist_info + "/RECORD"
    record = "".join("%s,%s,%d\n" % (arcname, _hash(data), len(data))
                     for arcname, data in entries) + record_name + ",,\n"
    filename = "%s-%s-%s.whl" % (module, version, WHEEL_TAG)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in entries + [(record_name, record.encode())]:
            info = zipfile.ZipInfo(arcname, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return filename


# --- PEP 517 hooks -------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    name, version, module = _names(project)
    dist_info = "%s-%s.dist-info" % (module, version)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for key, value in _dist_info_files(project).items():
        with open(os.path.join(metadata_directory, dist_info, key), "w",
                  encoding="utf-8") as handle:
            handle.write(value)
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    module = _names(project)[2]
    entries = []
    for arcname, path in _package_files(module):
        with open(path, "rb") as handle:
            entries.append((arcname, handle.read()))
    return _write_wheel(wheel_directory, entries, project)


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    project = _project()
    module = _names(project)[2]
    pth = (HERE + "\n").encode("utf-8")
    return _write_wheel(wheel_directory, [("_%s_editable.pth" % module, pth)],
                        project)


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    name, version, module = _names(project)
    base = "%s-%s" % (module, version)
    filename = base + ".tar.gz"

    def clean(info):
        if "__pycache__" in info.name:
            return None
        info.mtime, info.uid, info.gid = 0, 0, 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for member in SDIST_MEMBERS:
            path = os.path.join(HERE, member)
            if os.path.exists(path):
                tar.add(path, arcname=base + "/" + member, filter=clean)
        pkg_info = _metadata(project).encode("utf-8")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size, info.mode = len(pkg_info), 0o644
        tar.addfile(info, io.BytesIO(pkg_info))
    return filename
