from postillion.cli import main

raise SystemExit(main())
