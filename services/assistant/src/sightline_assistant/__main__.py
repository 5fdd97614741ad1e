from sightline_assistant.app import main

main()
