from sightline_asr.app import main

main()
