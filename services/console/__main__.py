from services.console.main import create_app
from services.console.settings import ConsoleSettings
from shared.service import run_service

if __name__ == "__main__":
    settings = ConsoleSettings()
    run_service(create_app(settings), settings)
