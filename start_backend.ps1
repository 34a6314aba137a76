# Set up (virtual environment, pinned dependencies, migrations) and serve on http://127.0.0.1:8000.
$ErrorActionPreference = "Stop"
Set-Location -Path $PSScriptRoot
if (-not (Test-Path ".venv\Scripts\python.exe")) {
    py -3 -m venv .venv
}
& .venv\Scripts\python.exe -m pip install --quiet --disable-pip-version-check -r requirements.lock
& .venv\Scripts\python.exe -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
& .venv\Scripts\mindsync.exe serve @args
