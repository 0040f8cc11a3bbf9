# iotauth example sketch for the unix port and the demo: the application, no Wi-Fi to bring
# up. On a board, boards/<board>/main.py takes this file's place. MIT licence.
import app

app.run()
