from aliasdesk.cli import main

raise SystemExit(main())
