# iotauth frozen: present only where the package is frozen into the firmware (manifest.py
# adds it), which tells load() that code costs no heap there. MIT licence.
