@echo off
rem Set up (virtual environment, pinned dependencies, migrations) and serve on http://127.0.0.1:8000.
cd /d "%~dp0"
if not exist .venv\Scripts\python.exe py -3 -m venv .venv || exit /b 1
.venv\Scripts\python.exe -m pip install --quiet --disable-pip-version-check -r requirements.lock || exit /b 1
.venv\Scripts\python.exe -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . || exit /b 1
.venv\Scripts\mindsync.exe serve %*
