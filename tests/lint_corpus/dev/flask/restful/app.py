from flask import Flask, request
from flask_restful import Api, Resource

app = Flask(__name__)
api = Api(app)


class Todo(Resource):
    todos: dict[str, str] = {}
    page_size = 20

    def get(self, todo_id):
        self.page_size = int(request.args.get("n", 20))  # trap: per-request instance
        return {todo_id: self.todos.get(todo_id)}

    def put(self, todo_id):
        self.todos[todo_id] = request.form["data"]  # expect: SL105
        return {todo_id: self.todos[todo_id]}


api.add_resource(Todo, "/todos/<string:todo_id>")
