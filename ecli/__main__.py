from ecli.cli.main import main

raise SystemExit(main())
